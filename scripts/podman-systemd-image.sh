#!/usr/bin/env bash
# Build localhost/crayon-systemd:bookworm: a Debian bookworm image with systemd as PID 1, made
# locally from Debian packages (no container registry needed), the stand-in for an EC2 or
# Lightsail host in molecule/host and tests/host. See shared recipe "systemd-host".
#
# Also writes a containers.conf for this machine (runc, ulimits, cgroup bind) and prints
# `CONTAINERS_CONF=<path>` as its last line, so callers can `eval` it.
#
#   scripts/podman-systemd-image.sh            # build if missing (or stale), write containers.conf
#   FORCE=1 scripts/podman-systemd-image.sh    # rebuild the image (the package cache is kept)
#
# Settings (environment):
#   CRAYON_IMAGE          image name            (localhost/crayon-systemd:bookworm)
#   CRAYON_CACHE_DIR      cache for .debs, the rootfs tarball and containers.conf (/var/cache/crayon)
#   CRAYON_MIRROR         Debian mirror          (read from this machine's apt sources)
#   CRAYON_CGROUP_BIND    1|0|auto: bind /sys/fs/cgroup/unified read-write into containers.
#                         auto = only when it exists (cgroup v1 "hybrid" hosts; absent on pure v2)
#   CRAYON_OCI_RUNTIME    runc (default when installed; crun refuses hybrid cgroups)
set -euo pipefail
# One build at a time on this machine (parallel test workers, two terminals): a second
# build waits here for the first, then finds its result in place.
# flock -o: the lock is held by flock itself, never inherited by what the build starts.
if [[ -z "${CRAYON_LOCK_PODMAN_SYSTEMD_IMAGE:-}" ]]; then
  exec env CRAYON_LOCK_PODMAN_SYSTEMD_IMAGE=1 flock -o "${TMPDIR:-/tmp}/crayon-podman-systemd-image.lock" bash "$0" "$@"
fi

IMAGE="${CRAYON_IMAGE:-localhost/crayon-systemd:bookworm}"
CACHE="${CRAYON_CACHE_DIR:-/var/cache/crayon}"
SUITE=bookworm
# python3 is 3.11 on bookworm (the pyz's interpreter); nftables and unattended-upgrades are in
# the image so the role's package tasks find them installed even without network.
PACKAGES="systemd,systemd-sysv,dbus,python3,python3-venv,python3-apt,sudo,iproute2,procps,curl,ca-certificates,nftables,unattended-upgrades,sqlite3"
REV="$(printf '%s %s v1' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-12)"

log() { printf 'podman-systemd-image: %s\n' "$*" >&2; }

need() {
  local missing=()
  for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
  if ((${#missing[@]})); then
    log "missing: ${missing[*]} (apt-get install -y podman runc debootstrap)"
    exit 1
  fi
}

mirror() {
  if [[ -n "${CRAYON_MIRROR:-}" ]]; then echo "$CRAYON_MIRROR"; return; fi
  local m=""
  # deb822 sources first (bookworm's default), then one-line sources.
  m="$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [[ -z "$m" ]]; then
    m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1=="deb" && $0 !~ /security/ && $0 ~ /debian/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}')"
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

write_containers_conf() {
  local conf="$CACHE/containers.conf" runtime bind="${CRAYON_CGROUP_BIND:-auto}" hard_nofile
  runtime="${CRAYON_OCI_RUNTIME:-}"
  if [[ -z "$runtime" ]]; then
    if command -v runc >/dev/null 2>&1; then runtime=runc; else runtime=crun; fi
  fi
  hard_nofile="$(ulimit -Hn)"
  [[ "$hard_nofile" == unlimited || "$hard_nofile" -gt 20000 ]] && hard_nofile=20000
  if [[ "$bind" == auto ]]; then
    [[ -d /sys/fs/cgroup/unified ]] && bind=1 || bind=0
  fi
  local volumes="[]"
  [[ "$bind" == 1 ]] && volumes='["/sys/fs/cgroup/unified:/sys/fs/cgroup/unified:rw"]'
  mkdir -p "$CACHE"
  cat >"$conf.tmp" <<CONF
# Written by scripts/podman-systemd-image.sh for this machine; use with CONTAINERS_CONF=$conf
# cgroup filesystem: $(stat -fc %T /sys/fs/cgroup) (tmpfs = v1 hybrid, cgroup2fs = pure v2)
[containers]
# Root here lacks CAP_SYS_RESOURCE and the hard nofile limit is ${hard_nofile}: podman's defaults fail.
default_ulimits = ["nofile=${hard_nofile}:${hard_nofile}", "nproc=32768:32768"]
# Without a read-write bind of the v2 hierarchy on a hybrid host, the inner systemd runs in
# legacy mode and about 1 in 10 service stops hangs 90 s.
volumes = ${volumes}

[engine]
runtime = "${runtime}"
CONF
  mv "$conf.tmp" "$conf"
  echo "$conf"
}

main() {
  need podman
  mkdir -p "$CACHE/debs"
  exec 9>"$CACHE/image.lock"
  flock 9   # one build at a time on this machine
  local conf
  conf="$(write_containers_conf)"
  export CONTAINERS_CONF="$conf"

  if [[ -z "${FORCE:-}" ]] && podman image exists "$IMAGE" \
    && [[ "$(podman image inspect --format '{{index .Config.Labels "crayon.image.rev"}}' "$IMAGE")" == "$REV" ]]; then
    log "$IMAGE is up to date (rev $REV)"
    echo "CONTAINERS_CONF=$conf"
    return
  fi

  local tarball="$CACHE/rootfs-$SUITE-$REV.tar"
  if [[ -n "${FORCE:-}" || ! -s "$tarball" ]]; then
    need debootstrap
    local m rootfs
    m="$(mirror)"
    rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap $SUITE from $m (packages cached in $CACHE/debs)"
    debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$PACKAGES" \
      "$SUITE" "$rootfs" "$m" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    : >"$rootfs/etc/machine-id"
    # Keep the sources the image was built from, so apt works inside when the network allows.
    printf 'deb %s %s main\n' "$m" "$SUITE" >"$rootfs/etc/apt/sources.list"
    tar -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
    # Old tarballs of other package lists are not needed any more.
    find "$CACHE" -maxdepth 1 -name "rootfs-$SUITE-*.tar" ! -name "$(basename "$tarball")" -delete
  fi
  log "importing $tarball as $IMAGE"
  podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
    --change "LABEL crayon.image.rev=$REV" "$tarball" "$IMAGE" >/dev/null
  echo "CONTAINERS_CONF=$conf"
}

main "$@"
