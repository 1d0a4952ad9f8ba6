#!/usr/bin/env bash
# Build localhost/crayon-base:bookworm: a small Debian bookworm with python3 (3.11), the base of
# the app's container image (Dockerfile, ARG BASE_IMAGE). No container registry is reachable on
# the build machines, so the image is made from Debian packages with debootstrap (shared recipe
# "systemd-host"), the mirror read from this machine's apt sources.
#
#   scripts/build-base-image.sh           # build when missing
#   FORCE=1 scripts/build-base-image.sh   # rebuild (the .deb cache is kept)
#
# Settings (environment): CRAYON_BASE_IMAGE (localhost/crayon-base:bookworm), CRAYON_CACHE_DIR
# (/var/cache/crayon), CRAYON_MIRROR (from the apt sources).
set -euo pipefail
# One build at a time on this machine (parallel test workers, two terminals): a second
# build waits here for the first, then finds its result in place.
# flock -o: the lock is held by flock itself, never inherited by what the build starts.
if [[ -z "${CRAYON_LOCK_BUILD_BASE_IMAGE:-}" ]]; then
  exec env CRAYON_LOCK_BUILD_BASE_IMAGE=1 flock -o "${TMPDIR:-/tmp}/crayon-build-base-image.lock" bash "$0" "$@"
fi

IMAGE="${CRAYON_BASE_IMAGE:-localhost/crayon-base:bookworm}"
CACHE="${CRAYON_CACHE_DIR:-/var/cache/crayon}"
SUITE=bookworm
# tini: PID 1 that forwards signals and reaps zombies. No python3-venv (the Dockerfile makes its
# venv --without-pip and runs pip from its wheel), no compilers, no curl (the health check uses
# Python's urllib), no sqlite3 shell (python3's sqlite3 module does the same job).
PACKAGES="python3,ca-certificates,tini"

log() { printf 'build-base-image: %s\n' "$*" >&2; }

for cmd in podman debootstrap; do
  command -v "$cmd" >/dev/null 2>&1 || { log "missing $cmd (apt-get install -y podman runc debootstrap)"; exit 1; }
done

# shellcheck source=scripts/podman-env.sh
source "$(dirname "$0")/podman-env.sh"

if [[ "${FORCE:-0}" != 1 ]] && podman image exists "$IMAGE"; then
  log "$IMAGE exists (FORCE=1 rebuilds)"
  exit 0
fi

mirror() {
  if [[ -n "${CRAYON_MIRROR:-}" ]]; then echo "$CRAYON_MIRROR"; return; fi
  local m=""
  m="$(awk '/^URIs:/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [[ -z "$m" ]]; then
    m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1=="deb" && $0 !~ /security/ && $0 ~ /debian/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}')"
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

MIRROR="$(mirror)"
mkdir -p "$CACHE/debs-base"
ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/crayon-base-rootfs.XXXXXX")"
trap 'rm -rf "$ROOTFS"' EXIT
log "debootstrap $SUITE from $MIRROR (cache $CACHE/debs-base)"
debootstrap --variant=minbase --cache-dir="$CACHE/debs-base" --include="$PACKAGES" \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$CACHE/debootstrap-base.log" 2>&1 \
  || { tail -20 "$CACHE/debootstrap-base.log" >&2; exit 1; }

# A container image is never upgraded in place: apt and what only it needs go.
for pkg in apt libapt-pkg6.0 gpgv debian-archive-keyring libgnutls30 libseccomp2 libxxhash0 \
  libhogweed6 libnettle8 libp11-kit0 libtasn1-6 libunistring2 libidn2-0; do
  chroot "$ROOTFS" dpkg --purge "$pkg" >/dev/null 2>&1 || true
done
# Perl and debconf serve only package installs, which never happen in this image; e2fsprogs
# formats disks. (Forced: perl-base is "essential" to a system that installs packages.)
chroot "$ROOTFS" dpkg --purge --force-remove-essential --force-depends \
  e2fsprogs logsave debconf perl-base >/dev/null 2>&1 || true
# glibc's iconv modules (Python has its own codecs) and Python's tools a server never runs.
find "$ROOTFS/usr/lib/x86_64-linux-gnu/gconv" -type f ! -name 'gconv-modules*' -delete 2>/dev/null || true
rm -rf "$ROOTFS"/usr/lib/python3.11/{lib2to3,pydoc_data,idlelib,test,turtledemo}
# Trim what a container never reads: docs, man pages, translations, apt's caches and lists.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin \
  "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* \
  "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* "$ROOTFS"/var/log/*.log \
  "$ROOTFS"/usr/share/common-licenses
: >"$ROOTFS/etc/machine-id"

tar -C "$ROOTFS" -c . | podman import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/usr/bin/python3"]' \
  - "$IMAGE" >/dev/null
log "built $IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
