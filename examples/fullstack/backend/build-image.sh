#!/usr/bin/env bash
# The example backend's image, localhost/fullstack-backend:<version>, built with podman.
#
#   examples/fullstack/backend/build-image.sh
#
# 1. the build context under build/fullstack-backend/ (repo root): wheels of this package and its
#    dependencies (pip's ordinary index, from the host), pip's own wheel under tools/;
# 2. the base image: when it is a localhost/ image, scripts/build-base-image.sh makes it;
# 3. `podman build` of this folder's Dockerfile (docker format, which keeps HEALTHCHECK).
#
# Settings (environment): FULLSTACK_IMAGE_NAME (localhost/fullstack-backend), FULLSTACK_BASE_IMAGE
# (localhost/crayon-base:bookworm; python:3.11-slim where a registry is reachable),
# FULLSTACK_EXTRAS (aws), PYTHON.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
cd "$ROOT"

PY="${PYTHON:-.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
NAME="${FULLSTACK_IMAGE_NAME:-localhost/fullstack-backend}"
BASE="${FULLSTACK_BASE_IMAGE:-localhost/crayon-base:bookworm}"
EXTRAS="${FULLSTACK_EXTRAS-aws}"
VERSION="$("$PY" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$HERE/pyproject.toml")"

log() { printf 'fullstack build-image: %s\n' "$*" >&2; }

# shellcheck source=scripts/podman-env.sh
source scripts/podman-env.sh
if [[ "$BASE" == localhost/* ]]; then
  CRAYON_BASE_IMAGE="$BASE" bash scripts/build-base-image.sh
fi

CTX=build/fullstack-backend
rm -rf "$CTX"
mkdir -p "$CTX/wheels" "$CTX/tools"
SPEC="$HERE"
[[ -n "$EXTRAS" ]] && SPEC="$HERE[$EXTRAS]"
log "wheels for fullstack-backend $VERSION${EXTRAS:+ [$EXTRAS]}"
"$PY" -m pip wheel --quiet --wheel-dir "$CTX/wheels" "$SPEC"
"$PY" -m pip download --quiet --no-deps --dest "$CTX/tools" pip
rm -rf "$HERE/build" "$HERE"/src/*.egg-info

log "podman build $NAME:$VERSION (base $BASE)"
podman build --format docker \
  --ulimit nofile=20000:20000 \
  --build-arg "BASE_IMAGE=$BASE" \
  --build-arg "VERSION=$VERSION" \
  --build-arg "EXTRAS=$EXTRAS" \
  -f "$HERE/Dockerfile" -t "$NAME:$VERSION" -t "$NAME:latest" "$CTX" >"$CTX/build.log" 2>&1 \
  || { tail -30 "$CTX/build.log" >&2; exit 1; }
BYTES="$(podman image inspect --format '{{.Size}}' "$NAME:$VERSION")"
echo "image $NAME:$VERSION: $((BYTES / 1000000)) MB"
