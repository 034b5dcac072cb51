#!/usr/bin/env bash
#
# contrib/provision.sh - provision a Debian 12 (bookworm) host for crpod
# development and tests.
#
# Usage (as root):
#   contrib/provision.sh [--rootfs DIR]
#
# What it does:
#   1. Installs the build/runtime packages crpod needs (runc, busybox-static,
#      libcap/libselinux/libsystemd/libarchive/libzstd/zlib headers, iptables,
#      nftables, iproute2, util-linux, ca-certificates, curl, systemd-socket-activate).
#   2. Makes a CRIU that can checkpoint network services on this kernel
#      available as `criu` (contrib/provision-criu.sh): the one on PATH if it
#      passes crpod's socket probe (CRIU really dumps a process holding a TCP
#      listener, an established loopback pair and a UDP socket, with
#      --tcp-established; `criu check` alone is not enough), else the newest
#      Debian CRIU that passes it (sid's 4.2.1 today; trixie's 4.1.1 cannot
#      dump inet sockets on Linux >= 6.16) with the libraries it needs
#      (including that suite's libc) unpacked into a private prefix and
#      started through the prefix's own dynamic loader by the wrapper
#      /usr/local/sbin/criu. A prefix whose CRIU fails the probe is replaced
#      (stage, probe, then an atomic switch). The system libc is never
#      touched; the suite is added as an apt source pinned at priority 100,
#      so nothing is upgraded to it. Bookworm's criu 3.17 fails on recent
#      kernels with a vDSO problem, so it is never installed.
#   3. Builds a busybox test rootfs for runc-based tests.
#   4. Installs the CNI plugins (Debian's containernetworking-plugins, in
#      /usr/lib/cni) and writes crpod's default pod network, the CNI conflist
#      "crpod" in $CRPOD_CNI_CONFIG_DIR/crpod.conflist: bridge crpod0 with
#      host-local IPAM on $CRPOD_CNI_SUBNET (apart from podman's 10.88.0.0/16),
#      outbound masquerade, portmap (for --publish) and firewall. An existing
#      file is left alone, whatever it says.
#   5. Makes checkpointctl 1.3.0 available as /usr/local/bin/checkpointctl
#      (contrib/provision-checkpointctl.sh): Debian's package with its suite's
#      libc in a private prefix, like CRIU's (the tests check that it reads
#      crpod's archives).
#   6. Sets up rootful podman 4.3.1 (contrib/podman/setup-podman.sh, without its
#      container check): Debian's podman, catatonit, netavark, aardvark-dns and
#      conmon, and podman's settings in a drop-in of its own,
#      /etc/containers/containers.conf.d/50-crpod.conf (netavark, whose default
#      network 10.88.0.0/16 on podman0 is apart from crpod0; podman never reads
#      $CRPOD_CNI_CONFIG_DIR with it). The tests check that podman restores
#      crpod's archives. The package's podman.socket/podman.service are disabled
#      (crpod's tests need no API service). CRPOD_SKIP_PODMAN=1 skips this step.
#
# Environment:
#   CRPOD_CRIU_PREFIX   private CRIU prefix     (default /opt/crpod/criu, a symlink to
#                       the versioned prefix in use, e.g. /opt/crpod/criu.sid-4.2.1-1)
#   CRPOD_CHECKPOINTCTL_PREFIX  private checkpointctl prefix (default
#                       /opt/crpod/checkpointctl, a symlink to the versioned prefix)
#   CRPOD_TEST_ROOTFS   busybox test rootfs dir (default /var/lib/crpod-test/rootfs-busybox)
#                       (--rootfs DIR overrides it)
#   CRPOD_CNI_CONFIG_DIR  CNI configuration directory (default /etc/cni/net.d)
#   CRPOD_CNI_SUBNET    subnet of the default pod network (default 10.90.0.0/24;
#                       its .1 is the bridge's address)
#   CRPOD_SKIP_PODMAN=1 skip step 6 (podman)
#
# It is safe to re-run: every step checks first and does nothing when its
# result is already in place (apt lists are refreshed only if older than 1h).
#
set -Eeuo pipefail

CRIU_PREFIX=${CRPOD_CRIU_PREFIX:-/opt/crpod/criu}
ROOTFS=${CRPOD_TEST_ROOTFS:-/var/lib/crpod-test/rootfs-busybox}
APT_STAMP=/var/lib/crpod-test/apt-update.stamp
CNI_CONFIG_DIR=${CRPOD_CNI_CONFIG_DIR:-/etc/cni/net.d}
CNI_SUBNET=${CRPOD_CNI_SUBNET:-10.90.0.0/24}

# Packages from bookworm.  Besides its libraries, CRIU runs host tools at
# dump/restore time: `ip` (iproute2) for network namespaces,
# ip(6)tables-save/-restore (iptables) for rules and the network lock, and
# `tar`/`gzip` for tmpfs contents.
APT_PACKAGES=(
    runc busybox-static
    libcap-dev libselinux1-dev libsystemd-dev libarchive-dev libzstd-dev zlib1g-dev nettle-dev
    iptables nftables iproute2 util-linux ca-certificates curl python3 zstd
    tar gzip gcc libc6-dev containernetworking-plugins
    docker-registry openssl apache2-utils
)

ORIGINAL_PATH=${PATH:-}
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

log() { printf '==> %s\n' "$*"; }
die() { printf 'provision.sh: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "provision.sh: ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

usage() { sed -n '2,/^set -/{/^set -/d;s/^# \{0,1\}//;p}' "$0"; }

while [ $# -gt 0 ]; do
    case $1 in
        --rootfs) [ $# -ge 2 ] || die "--rootfs needs a directory"; ROOTFS=$2; shift 2 ;;
        --rootfs=*) ROOTFS=${1#--rootfs=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "must run as root"
if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null; then
    die "this script needs a Debian host with apt"
fi
case $ROOTFS in /*) ;; *) ROOTFS=$PWD/$ROOTFS ;; esac
case $CRIU_PREFIX in /*) ;; *) die "CRPOD_CRIU_PREFIX must be an absolute path" ;; esac

TMPDIR_PROV=$(mktemp -d /tmp/crpod-provision.XXXXXX)
trap 'rm -rf "$TMPDIR_PROV"' EXIT

# ---------------------------------------------------------------- apt helpers

# Run `apt-get update` unless it ran successfully within the last hour (or
# when forced with "force", e.g. after adding a source).
apt_update() {
    local fresh=
    if [ "${1:-}" != force ] && compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        if [ -n "$(find "$APT_STAMP" -mmin -60 2>/dev/null || true)" ] ||
           [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 -print -quit 2>/dev/null || true)" ]; then
            fresh=1
        fi
    fi
    [ -n "$fresh" ] && return 0
    log "apt-get update"
    apt-get update -q || die "apt-get update failed"
    mkdir -p "$(dirname "$APT_STAMP")" && touch "$APT_STAMP"
}

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# ------------------------------------------------------- 1. system packages

install_packages() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    # systemd is only wanted for systemd-socket-activate; don't touch it if present.
    command -v systemd-socket-activate >/dev/null || missing+=(systemd)
    if [ ${#missing[@]} -eq 0 ]; then
        log "system packages already installed"
        return
    fi
    apt_update
    log "apt-get install ${missing[*]}"
    apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed"
    command -v systemd-socket-activate >/dev/null || die "systemd-socket-activate still missing"
    # docker-registry is for the image pull/push tests, which start their own on 127.0.0.1
    # (apache2-utils: htpasswd -B, the bcrypt file of the credentials tests); the package's
    # service would listen on :5000 for everyone.
    if [ -d /run/systemd/system ]; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
}

# ------------------------------------------------------------------ 2. CRIU

# shellcheck source=contrib/provision-criu.sh
. "$(dirname "${BASH_SOURCE[0]}")/provision-criu.sh"
# shellcheck source=contrib/provision-checkpointctl.sh
. "$(dirname "${BASH_SOURCE[0]}")/provision-checkpointctl.sh"

# ------------------------------------------------------- 3. busybox rootfs

build_rootfs() {
    local bb=/bin/busybox a d n=0
    [ -x "$bb" ] || die "$bb missing (package busybox-static)"
    ldd "$bb" >/dev/null 2>&1 && die "$bb is dynamically linked; busybox-static is needed"

    for d in bin sbin etc proc sys dev tmp root run var/tmp usr/bin usr/sbin; do
        mkdir -p "$ROOTFS/$d"
    done
    chmod 1777 "$ROOTFS/tmp" "$ROOTFS/var/tmp"
    chmod 0700 "$ROOTFS/root"

    if ! cmp -s "$bb" "$ROOTFS/bin/busybox"; then
        log "copying $bb into $ROOTFS/bin/busybox"
        cp "$bb" "$ROOTFS/bin/busybox.tmp"
        chmod 0755 "$ROOTFS/bin/busybox.tmp"
        mv -f "$ROOTFS/bin/busybox.tmp" "$ROOTFS/bin/busybox"
    fi
    for a in $("$bb" --list); do
        [ "$a" = busybox ] && continue
        if [ "$(readlink "$ROOTFS/bin/$a" 2>/dev/null)" != busybox ]; then
            rm -rf "${ROOTFS:?}/bin/$a"
            ln -s busybox "$ROOTFS/bin/$a"
            n=$((n + 1))
        fi
    done
    [ "$n" -eq 0 ] || log "created $n applet links in $ROOTFS/bin"

    write_if_changed "$ROOTFS/etc/passwd" 'root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false'
    write_if_changed "$ROOTFS/etc/group" 'root:x:0:
nogroup:x:65534:'
    write_if_changed "$ROOTFS/etc/hostname" 'crpod-test'
    "$ROOTFS/bin/busybox" true || die "busybox in $ROOTFS does not run"
    log "busybox rootfs ready at $ROOTFS"
}

write_if_changed() {
    [ "$(cat "$1" 2>/dev/null)" = "$2" ] || printf '%s\n' "$2" > "$1"
}

# ------------------------------------------------- 4. default pod network

write_cni_network() {
    local file=$CNI_CONFIG_DIR/crpod.conflist base gateway p
    for p in bridge host-local portmap firewall loopback; do
        [ -x "/usr/lib/cni/$p" ] || die "CNI plugin /usr/lib/cni/$p missing (package containernetworking-plugins)"
    done
    # Written before pod restores kept MACs: without bridge's mac capability, written again.
    if [ -e "$file" ] && grep -q '"mac": true' "$file"; then
        log "CNI network crpod already configured ($file)"
        return
    fi
    case $CNI_SUBNET in
        *.0/24) base=${CNI_SUBNET%.0/24} ;;
        *) die "CRPOD_CNI_SUBNET must be an IPv4 /24 ending in .0/24, got $CNI_SUBNET" ;;
    esac
    gateway=$base.1
    mkdir -p "$CNI_CONFIG_DIR"
    cat > "$file.tmp" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "crpod",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "crpod0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "capabilities": { "ips": true, "mac": true },
      "ipam": {
        "type": "host-local",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "ranges": [[{ "subnet": "$CNI_SUBNET", "gateway": "$gateway" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "firewall" }
  ]
}
EOF
    mv -f "$file.tmp" "$file"
    log "wrote CNI network crpod ($CNI_SUBNET, bridge crpod0) to $file"
}

# ------------------------------------------------------------------ 6. podman

provide_podman() {
    if [ "${CRPOD_SKIP_PODMAN:-0}" = 1 ]; then
        log "podman skipped (CRPOD_SKIP_PODMAN=1)"
        return
    fi
    CRPOD_TEST_ROOTFS=$ROOTFS CRPOD_PODMAN_SKIP_CHECK=1 "$(dirname "${BASH_SOURCE[0]}")/podman/setup-podman.sh" ||
        die "podman setup failed (contrib/podman/setup-podman.sh)"
}

# ------------------------------------------------------------------- main

install_packages
provide_criu
build_rootfs
write_cni_network
provide_checkpointctl
provide_podman

runc_version=$(runc --version | head -n1) || die "'runc --version' failed"
echo
echo "crpod provisioning done:"
echo "  runc:   $runc_version ($(command -v runc))"
echo "  criu:   $(command -v criu), version $(criu_version)"
echo "  rootfs: $ROOTFS"
echo "  cni:    network crpod in $CNI_CONFIG_DIR/crpod.conflist, plugins in /usr/lib/cni"
echo "  checkpointctl: $CHECKPOINTCTL_WRAPPER ($(readlink -f "$CHECKPOINTCTL_PREFIX"))"
[ "${CRPOD_SKIP_PODMAN:-0}" = 1 ] || echo "  podman: $(podman version --format '{{.Client.Version}}') ($(command -v podman))"
case ":$ORIGINAL_PATH:" in
    *:"$(dirname "$(command -v criu)")":*) ;;
    *) echo "  note: $(dirname "$(command -v criu)") is not on your PATH; add it to run criu by name" ;;
esac
