# Sourced by the image scripts: make podman work on these machines (shared recipe
# "systemd-host"): runc instead of crun (cgroup v1 "hybrid" hosts), and ulimits the root user
# here can grant (no CAP_SYS_RESOURCE; hard nofile 20000). Exports CONTAINERS_CONF unless set.
# shellcheck shell=bash
if [[ -z "${CONTAINERS_CONF:-}" ]]; then
  _cache="${CRAYON_CACHE_DIR:-/var/cache/crayon}"
  _runtime="${CRAYON_OCI_RUNTIME:-}"
  if [[ -z "$_runtime" ]]; then
    if command -v runc >/dev/null 2>&1; then _runtime=runc; else _runtime=crun; fi
  fi
  _nofile="$(ulimit -Hn)"
  [[ "$_nofile" == unlimited || "$_nofile" -gt 20000 ]] && _nofile=20000
  mkdir -p "$_cache"
  cat >"$_cache/containers-app.conf.tmp" <<CONF
# Written by scripts/podman-env.sh; use with CONTAINERS_CONF=$_cache/containers-app.conf
[containers]
default_ulimits = ["nofile=${_nofile}:${_nofile}", "nproc=32768:32768"]

[engine]
runtime = "${_runtime}"
CONF
  mv "$_cache/containers-app.conf.tmp" "$_cache/containers-app.conf"
  export CONTAINERS_CONF="$_cache/containers-app.conf"
  unset _cache _runtime _nofile
fi
