#!/usr/bin/env bash
# dist/crayon.pyz: one file holding the app and its dependencies; a host needs only python3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
mkdir -p dist
rm -f dist/crayon.pyz
"$BIN/shiv" --quiet \
  --console-script crayon \
  --output-file dist/crayon.pyz \
  --python "/usr/bin/env python3" \
  --compressed \
  --reproducible \
  .
ls -l dist/crayon.pyz
