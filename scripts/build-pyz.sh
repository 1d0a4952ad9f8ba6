#!/usr/bin/env bash
# dist/crayon.pyz: one file holding the app and its dependencies; a host needs only python3.11.
set -euo pipefail
# One build at a time on this machine (parallel test workers, two terminals): a second
# build waits here for the first, then finds its result in place.
# flock -o: the lock is held by flock itself, never inherited by what the build starts.
if [[ -z "${CRAYON_LOCK_BUILD_PYZ:-}" ]]; then
  exec env CRAYON_LOCK_BUILD_PYZ=1 flock -o "${TMPDIR:-/tmp}/crayon-build-pyz.lock" bash "$0" "$@"
fi
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
# CRAYON_PYZ_OUTPUT writes elsewhere (tests build into a temp dir, leaving dist/ alone).
OUT=${CRAYON_PYZ_OUTPUT:-dist/crayon.pyz}
mkdir -p "$(dirname "$OUT")"
# The reference model ships inside the build (package data), regenerated from the current code:
# deterministic, so an up-to-date tree is left unchanged; a fresh start can analyse at once.
"$BIN/python" -m app.analysis.shipmodel write
# Written beside the target, then renamed: a reader (a test copying the build to a host)
# never sees half a file.
TMP_OUT="$OUT.tmp.$$"
trap 'rm -f "$TMP_OUT"' EXIT
"$BIN/shiv" --quiet \
  --console-script crayon \
  --output-file "$TMP_OUT" \
  --python "/usr/bin/env python3" \
  --compressed \
  --reproducible \
  .
mv -f "$TMP_OUT" "$OUT"
ls -l "$OUT"
