"""Validates Kubernetes and KServe manifests against the OpenAPI models of the `kubernetes` and `kserve`
Python clients (the classes generated from the clusters' OpenAPI schemas): every field must exist in
the schema with the right type, and required fields must be present.

    python deploy/validate.py deploy/k8s/*.yaml deploy/kserve/*.yaml

Prints one line per document and "N passed, M failed"; exits 1 when a document is invalid.
"""

import datetime
import re
import sys

import yaml

KINDS = {  # (apiVersion, kind) -> model class name
    ("apps/v1", "Deployment"): "V1Deployment",
    ("v1", "Service"): "V1Service",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2HorizontalPodAutoscaler",
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): "V1alpha1ServingRuntime",
    ("serving.kserve.io/v1alpha1", "ClusterServingRuntime"): "V1alpha1ClusterServingRuntime",
    ("serving.kserve.io/v1beta1", "InferenceService"): "V1beta1InferenceService",
}


def _model_class(name):
    import kubernetes.client.models as k8s
    if hasattr(k8s, name):
        return getattr(k8s, name)
    import kserve.models as ks
    return getattr(ks, name, None)


class Invalid(Exception):
    pass


def convert(value, type_name, path):
    """`value` checked against `type_name` (an OpenAPI client type string); returns the model object."""
    if value is None:
        return None
    m = re.match(r"^[lL]ist\[(.+)\]$", type_name)
    if m:
        if not isinstance(value, list):
            raise Invalid(f"{path}: expected a list, got {type(value).__name__}")
        return [convert(v, m.group(1), f"{path}[{i}]") for i, v in enumerate(value)]
    m = re.match(r"^(?:dict\(([^,]+), (.+)\)|Dict\[([^,]+), (.+)\])$", type_name)
    if m:
        if not isinstance(value, dict):
            raise Invalid(f"{path}: expected a mapping, got {type(value).__name__}")
        inner = m.group(2) or m.group(4)
        return {k: convert(v, inner, f"{path}.{k}") for k, v in value.items()}
    if type_name == "object":
        return value
    if type_name in ("str", "int", "bool", "float"):
        py = {"str": str, "int": int, "bool": bool, "float": (int, float)}[type_name]
        if not isinstance(value, py) or (type_name in ("int", "float") and isinstance(value, bool)):
            raise Invalid(f"{path}: expected {type_name}, got {value!r}")
        return value
    if type_name == "datetime":
        if not isinstance(value, (str, datetime.datetime)):
            raise Invalid(f"{path}: expected a timestamp, got {value!r}")
        return value
    cls = _model_class(type_name)
    if cls is None:
        raise Invalid(f"{path}: the schema names an unknown type {type_name}")
    if not isinstance(value, dict):
        raise Invalid(f"{path}: expected an object ({type_name}), got {type(value).__name__}")
    by_json = {j: a for a, j in cls.attribute_map.items()}
    kwargs = {}
    for key, v in value.items():
        attr = by_json.get(key)
        if attr is None:
            raise Invalid(f"{path}.{key}: no such field in {type_name} (fields: {', '.join(sorted(by_json))})")
        kwargs[attr] = convert(v, cls.openapi_types[attr], f"{path}.{key}")
    try:
        return cls(**kwargs)  # the generated setters reject missing required fields and bad enum values
    except ValueError as e:
        raise Invalid(f"{path} ({type_name}): {e}")


def validate_doc(doc, where):
    if not isinstance(doc, dict):
        raise Invalid(f"{where}: a manifest must be a mapping")
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key not in KINDS:
        raise Invalid(f"{where}: unsupported apiVersion/kind {key}")
    if not (doc.get("metadata") or {}).get("name"):
        raise Invalid(f"{where}: metadata.name is required")
    convert(doc, KINDS[key], where)
    return key


def validate_file(path):
    """[(ok, message)] for each document of a YAML file."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        return [(False, f"{path}: cannot parse: {e}")]
    for i, doc in enumerate(docs):
        where = f"{path}#{i}"
        try:
            key = validate_doc(doc, where)
            out.append((True, f"ok {where}: {key[1]} {doc['metadata']['name']}"))
        except Invalid as e:
            out.append((False, f"FAIL {e}"))
    return out


def main(paths):
    results = [r for p in paths for r in validate_file(p)]
    for _, msg in results:
        print(msg)
    bad = sum(1 for ok, _ in results if not ok)
    print(f"{len(results) - bad} passed, {bad} failed")
    return 1 if bad or not results else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
