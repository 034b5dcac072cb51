#!/usr/bin/env bash
#
# contrib/podman/setup-podman.sh - set up rootful podman (Debian 12's 4.3.1)
# on a crpod development host, as the peer crpod's fixtures and benchmarks
# are compared against.
#
# Usage (as root, after contrib/provision.sh):
#   contrib/podman/setup-podman.sh
#
# What it does:
#   1. apt-get installs podman, catatonit (pause image for pod infra
#      containers), netavark and aardvark-dns (network stack), without
#      recommends (no fuse-overlayfs/slirp4netns: rootful only), and jq and
#      zstd for make-fixtures.sh; disables the package's podman.socket and
#      podman.service when systemd runs (the CLI is all crpod uses).
#   2. Writes the drop-in /etc/containers/containers.conf.d/50-crpod.conf:
#        cgroup_manager = "cgroupfs"   (hybrid cgroup host, no systemd manager)
#        events_logger  = "file"       (no journald)
#        runtime        = "runc"       (Debian's crun 1.8.1 has no checkpoint
#                                       and refuses hybrid cgroups)
#        network_backend = "netavark"   (explicit: with a CNI config in
#                                       /etc/cni/net.d, crpod's, podman
#                                       would pick CNI and list crpod's
#                                       network as its own)
#        default_ulimits at the hard limits: podman's own defaults (nofile
#          1048576, ...) exceed them and root has no CAP_SYS_RESOURCE here,
#          so every `podman run` would fail with "error setting rlimit".
#      Everything else keeps podman's defaults.
#      CRIU: podman 4.3.1 probes `criu` (go-criu, exec.LookPath) on its own
#      PATH, and runc runs `criu` from PATH too (its --criu default); for
#      checkpoint runc inherits podman's environment, for restore it runs
#      under conmon with conmon_env_vars, whose default PATH starts with
#      /usr/local/sbin.  So provision.sh's wrapper /usr/local/sbin/criu is
#      used as long as podman itself runs with /usr/local/sbin on PATH
#      (root's default); otherwise podman says "checkpoint/restore requires
#      at least CRIU 31100".  containers.conf's [engine] env does not help
#      (podman 4.3.1 does not apply it to its own criu probe).
#   3. Imports the busybox test rootfs as the image localhost/busybox:crpod.
#   4. Checks: `podman run --rm localhost/busybox:crpod echo ok`, and a pod
#      with one member checkpointed with `podman container checkpoint
#      --export` (the test pod and container are removed afterwards).
#
# Environment:
#   CRPOD_TEST_ROOTFS   busybox rootfs (default /var/lib/crpod-test/rootfs-busybox)
#   CRPOD_PODMAN_IMAGE  image name     (default localhost/busybox:crpod)
#   CRPOD_PODMAN_SKIP_CHECK=1  skip step 4
#
# Safe to re-run: packages, config and image are only (re)made when missing
# or different.
#
set -Eeuo pipefail

ROOTFS=${CRPOD_TEST_ROOTFS:-/var/lib/crpod-test/rootfs-busybox}
IMAGE=${CRPOD_PODMAN_IMAGE:-localhost/busybox:crpod}
CRIU_WRAPPER=/usr/local/sbin/criu
DROPIN_DIR=/etc/containers/containers.conf.d
DROPIN=$DROPIN_DIR/50-crpod.conf
# jq and zstd are for make-fixtures.sh (facts files, listing zstd archives).
APT_PACKAGES=(podman catatonit netavark aardvark-dns conmon runc jq zstd gzip tar)

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

log() { printf '==> %s\n' "$*"; }
die() { printf 'setup-podman.sh: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "setup-podman.sh: ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

case ${1:-} in
    -h|--help) sed -n '2,/^set -/{/^set -/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    '') ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac

[ "$(id -u)" = 0 ] || die "must run as root"
command -v apt-get >/dev/null || die "this script needs a Debian host with apt"

# ------------------------------------------------------------ 1. packages

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_packages() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "podman packages already installed"
        return
    fi
    # Refresh the lists unless some are less than an hour old.
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 -print -quit 2>/dev/null || true)" ]; then
        log "apt-get update"
        apt-get update -q || die "apt-get update failed"
    fi
    log "apt-get install ${missing[*]}"
    apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed"
    # The package enables podman's API socket/service; crpod's tests and fixtures use the CLI.
    if [ -d /run/systemd/system ]; then
        systemctl disable --now podman.socket podman.service >/dev/null 2>&1 || true
    fi
}

# -------------------------------------------------------------- 2. config

nproc_limit() {
    local h
    h=$(ulimit -Hu)
    if [ "$h" = unlimited ] || [ "$h" -gt 32768 ]; then h=32768; fi
    printf '%s' "$h"
}

nofile_limit() {
    local h
    h=$(ulimit -Hn)
    # "unlimited" is not valid for RLIMIT_NOFILE; fall back to the kernel max.
    [ "$h" = unlimited ] && h=$(cat /proc/sys/fs/nr_open)
    printf '%s' "$h"
}

write_config() {
    local nofile nproc tmp
    nofile=$(nofile_limit)
    nproc=$(nproc_limit)
    [ -x "$CRIU_WRAPPER" ] || log "warning: $CRIU_WRAPPER missing (run contrib/provision.sh); podman checkpoint will not work"
    mkdir -p "$DROPIN_DIR"
    tmp=$(mktemp "$DROPIN_DIR/.50-crpod.conf.XXXXXX")
    cat >"$tmp" <<EOF
# Written by crpod contrib/podman/setup-podman.sh (re-run it to update).
# Rootful podman 4.3.1 on a hybrid-cgroup (v1 + unified) host without
# systemd/journald as the cgroup manager/event log, where root lacks
# CAP_SYS_RESOURCE.  Everything not set here keeps podman's defaults.

[containers]
# Podman's defaults exceed the hard limits here (runc: "error setting
# rlimit type 7: operation not permitted"); use the hard limits instead.
default_ulimits = [
  "nofile=${nofile}:${nofile}",
  "nproc=${nproc}:${nproc}",
]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
# CRIU: podman and runc run "criu" from PATH; keep /usr/local/sbin (the
# crpod CRIU wrapper) on the PATH podman is started with.

[network]
network_backend = "netavark"
EOF
    chmod 0644 "$tmp"
    if [ -f "$DROPIN" ] && cmp -s "$tmp" "$DROPIN"; then
        rm -f "$tmp"
        log "$DROPIN up to date"
    else
        mv -f "$tmp" "$DROPIN"
        log "wrote $DROPIN (nofile=$nofile nproc=$nproc)"
    fi
}

# --------------------------------------------------------------- 3. image

import_image() {
    [ -x "$ROOTFS/bin/busybox" ] || die "busybox rootfs $ROOTFS missing (run contrib/provision.sh)"
    if podman image exists "$IMAGE"; then
        log "image $IMAGE already present"
        return
    fi
    log "importing $ROOTFS as $IMAGE"
    tar -C "$ROOTFS" -c . | podman import -q - "$IMAGE" >/dev/null
    podman image exists "$IMAGE" || die "import of $IMAGE failed"
}

# --------------------------------------------------------------- 4. check

check_podman() {
    local out tag ctr pod dir
    out=$(podman run --rm "$IMAGE" echo ok) || die "podman run failed"
    [ "$out" = ok ] || die "podman run printed '$out', expected 'ok'"
    log "podman run: ok"

    tag=crpod-setup-check-$$
    pod=$tag-pod
    ctr=$tag-ctr
    dir=$(mktemp -d /tmp/crpod-podman-check.XXXXXX)
    # shellcheck disable=SC2064
    trap "podman pod rm -f -t 0 '$pod' >/dev/null 2>&1 || true; rm -rf '$dir'" EXIT
    podman pod create --name "$pod" >/dev/null
    podman run -d --pod "$pod" --name "$ctr" "$IMAGE" sleep 1000 >/dev/null
    podman container checkpoint --export "$dir/check.tar.zst" "$ctr" >/dev/null ||
        die "podman container checkpoint --export failed"
    [ -s "$dir/check.tar.zst" ] || die "checkpoint archive is empty"
    log "pod member: podman container checkpoint --export: ok ($(stat -c %s "$dir/check.tar.zst") bytes)"
    podman pod rm -f -t 0 "$pod" >/dev/null
    rm -rf "$dir"
    trap - EXIT
}

install_packages
write_config
v=$(podman version --format '{{.Client.Version}}')
command -v criu >/dev/null || die "no criu on PATH (run contrib/provision.sh)"
log "podman $v, criu $(criu --version 2>/dev/null | sed -n 's/^Version: *//p') at $(command -v criu)"
case $v in 4.3.*) ;; *) log "warning: expected podman 4.3.x, got $v" ;; esac
import_image
if [ "${CRPOD_PODMAN_SKIP_CHECK:-0}" != 1 ]; then
    check_podman
fi
log "podman ready"
