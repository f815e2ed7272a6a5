#!/usr/bin/env bash
# Builds and checks the serving image where Docker Hub is out of reach (what docs/serving.md, "Building the
# image", describes): a Debian bookworm base from debootstrap, `docker import`ed, deploy/Dockerfile built on it
# with --build-arg BASE_IMAGE, then one container run on examples/digits: /v2/health/ready must answer 200 and
# an infer must equal a direct run of the model; `docker stop` must drain and exit 0.
#   deploy/local_image.sh [WORK_DIR]        (root; needs docker.io and debootstrap; DOCKER_HOST if not the default)
# Extra CA certificates in /usr/local/share/ca-certificates (a TLS-intercepting proxy) are copied into the base,
# so that pip inside the build trusts the same proxy as this machine.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/oxrt-image}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$work"
if [ ! -x "$work/rootfs/bin/sh" ]; then
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror"
fi
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$work/rootfs/usr/local/share/ca-certificates" "$work/rootfs/etc/ssl/certs"
  cp /usr/local/share/ca-certificates/*.crt "$work/rootfs/usr/local/share/ca-certificates/"
  cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$work/rootfs/etc/pip.conf"
fi
tar -C "$work/rootfs" -c . | docker import - oxrt-base:bookworm
# The Dockerfile needs BuildKit (Dockerfile.dockerignore). A client of Docker 23+ builds with BuildKit only through
# its buildx plugin, which Debian 12 does not package; docker.io's own client (20.10) has BuildKit built in.
builder=docker
if ! docker buildx version >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then builder=/usr/bin/docker; fi
DOCKER_BUILDKIT=1 "$builder" build --network host --build-arg BASE_IMAGE=oxrt-base:bookworm -f "$root/deploy/Dockerfile" \
  -t oxrt-serve:local "$root"
mkdir -p "$work/models/digits/1"
cp "$root/examples/digits/model.onnx" "$work/models/digits/1/"
chmod -R a+rX "$work/models"
docker rm -f oxrt-serve-check >/dev/null 2>&1 || true
docker run -d --name oxrt-serve-check -p 18000:8000 -v "$work/models:/models:ro" oxrt-serve:local >/dev/null
for _ in $(seq 60); do curl -sf http://127.0.0.1:18000/v2/health/ready >/dev/null && break; sleep 1; done
code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18000/v2/health/ready)
body='{"inputs":[{"name":"image","datatype":"FP32","shape":[1,1,8,8],"data":['$(seq -s, 64 | sed 's/[0-9]\+/0.5/g')']}]}'
got=$(curl -s -X POST -H 'Content-Type: application/json' --data "$body" http://127.0.0.1:18000/v2/models/digits/infer)
docker stop -t 30 oxrt-serve-check >/dev/null
exit_code=$(docker inspect oxrt-serve-check --format '{{.State.ExitCode}}')
docker rm oxrt-serve-check >/dev/null
echo "ready: HTTP $code; exit code after docker stop: $exit_code"
echo "infer: $got" | cut -c1-200
[ "$code" = 200 ] && [ "$exit_code" = 0 ] && echo "$got" | grep -q '"logits"'
