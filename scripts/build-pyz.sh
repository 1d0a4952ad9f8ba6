#!/usr/bin/env bash
# dist/crayon.pyz: one file holding the app and its dependencies; a host needs only python3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
# CRAYON_PYZ_OUTPUT writes elsewhere (tests build into a temp dir, leaving dist/ alone).
OUT=${CRAYON_PYZ_OUTPUT:-dist/crayon.pyz}
mkdir -p "$(dirname "$OUT")"
# The reference model ships inside the build (package data), regenerated from the current code:
# deterministic, so an up-to-date tree is left unchanged; a fresh start can analyse at once.
"$BIN/python" -m app.analysis.shipmodel write
rm -f "$OUT"
"$BIN/shiv" --quiet \
  --console-script crayon \
  --output-file "$OUT" \
  --python "/usr/bin/env python3" \
  --compressed \
  --reproducible \
  .
ls -l "$OUT"
