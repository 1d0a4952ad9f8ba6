#!/usr/bin/env bash
# Install the OS packages the tests need, only if missing: .ci/apt-packages.txt (Debian's
# names), or .ci/apt-packages.<ID>.txt when the OS (ID in /etc/os-release) has a list of its own
# (.ci/apt-packages.ubuntu.txt for GitHub's runners).
#   scripts/install-system-deps.sh            # install what is missing
#   scripts/install-system-deps.sh --list     # print the list file and its packages, install nothing
set -euo pipefail
cd "$(dirname "$0")/.."
os_release="${CRAYON_OS_RELEASE:-/etc/os-release}"
os_id="$(. "$os_release" 2>/dev/null && echo "${ID:-}")" || os_id=""
list=.ci/apt-packages.txt
if [ -n "$os_id" ] && [ -f ".ci/apt-packages.$os_id.txt" ]; then
  list=".ci/apt-packages.$os_id.txt"
fi
mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$list")
if [ "${1:-}" = "--list" ]; then
  echo "$list"
  printf '%s\n' "${wanted[@]}"
  exit 0
fi
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing ${os_id:-OS} packages from $list: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
