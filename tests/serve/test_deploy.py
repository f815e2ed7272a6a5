"""The deploy/ manifests validate against the OpenAPI models of the kubernetes and kserve Python clients
(deploy/validate.py, in a process of its own: kserve's protobuf modules clash with tritonclient's),
and the validator rejects broken ones."""

import glob
import os
import subprocess
import sys

from conftest import ROOT

VALIDATE = os.path.join(ROOT, "deploy", "validate.py")


def run(paths):
    return subprocess.run([sys.executable, "-W", "ignore", VALIDATE, *paths], capture_output=True, text=True,
                          timeout=60)


BROKEN = {
    "unknown field": """apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  replica: 2
  selector: {matchLabels: {app: a}}
  template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: i}]}}
""",
    "missing required": """apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: a}}
  template: {metadata: {labels: {app: a}}, spec: {}}
""",
    "wrong type": """apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  ports: [{port: "eighty"}]
""",
    "hpa target without type": """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: h}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}
  maxReplicas: 3
  metrics: [{type: Pods, pods: {metric: {name: m}, target: {averageValue: "1"}}}]
""",
    "kserve unknown field": """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: i}
spec:
  predictor: {model: {modelFormat: {name: onnx}, storageUrl: "pvc://x"}}
""",
}


def test_manifests_validate_and_broken_ones_fail(tmp_path):
    paths = sorted(glob.glob(os.path.join(ROOT, "deploy", "k8s", "*.yaml")) +
                   glob.glob(os.path.join(ROOT, "deploy", "kserve", "*.yaml")))
    broken = []
    for i, name in enumerate(sorted(BROKEN)):
        p = tmp_path / f"bad{i}.yaml"
        p.write_text(BROKEN[name])
        broken.append(str(p))
    out = run(paths + broken)  # one process: importing the clients takes seconds
    lines = out.stdout.splitlines()
    assert out.returncode == 1 and f"{len(paths)} passed, {len(broken)} failed" in lines[-1], out.stdout + out.stderr
    for p in paths:
        assert any(line.startswith(f"ok {p}#0") for line in lines), (p, out.stdout)
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "ServingRuntime", "InferenceService"):
        assert f": {kind} " in out.stdout, out.stdout
    for p in broken:
        assert any(line.startswith(f"FAIL {p}#0") for line in lines), (p, out.stdout)
