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
#   2. Makes a working CRIU (>= 3.16) available as `criu` on PATH.  A system
#      criu that passes `criu check` is used as is.  Otherwise (bookworm's
#      criu 3.17 fails on recent kernels with a vDSO problem, so it is never
#      installed) trixie's criu and the libraries it needs (including trixie's
#      libc) are unpacked into a private prefix and started through that
#      prefix's own dynamic loader by the wrapper /usr/local/sbin/criu.
#      The system libc is never touched; trixie is added as an apt source
#      pinned at priority 100, so nothing is upgraded to it.
#   3. Builds a busybox test rootfs for runc-based tests.
#
# Environment:
#   CRPOD_CRIU_PREFIX   private CRIU prefix     (default /opt/crpod/criu)
#   CRPOD_TEST_ROOTFS   busybox test rootfs dir (default /var/lib/crpod-test/rootfs-busybox)
#                       (--rootfs DIR overrides it)
#
# It is safe to re-run: every step checks first and does nothing when its
# result is already in place (apt lists are refreshed only if older than 1h).
#
set -Eeuo pipefail

CRIU_PREFIX=${CRPOD_CRIU_PREFIX:-/opt/crpod/criu}
ROOTFS=${CRPOD_TEST_ROOTFS:-/var/lib/crpod-test/rootfs-busybox}
CRIU_WRAPPER=/usr/local/sbin/criu
CRIU_MIN_VERSION=3.16
EXTRA_SUITE=trixie
APT_SOURCE_FILE=/etc/apt/sources.list.d/crpod-${EXTRA_SUITE}.sources
APT_PIN_FILE=/etc/apt/preferences.d/crpod-${EXTRA_SUITE}
APT_STAMP=/var/lib/crpod-test/apt-update.stamp

# Packages from bookworm.  Besides its libraries, CRIU runs host tools at
# dump/restore time: `ip` (iproute2) for network namespaces,
# ip(6)tables-save/-restore (iptables) for rules and the network lock, and
# `tar`/`gzip` for tmpfs contents.
APT_PACKAGES=(
    runc busybox-static
    libcap-dev libselinux1-dev libsystemd-dev libarchive-dev libzstd-dev zlib1g-dev libssl-dev
    iptables nftables iproute2 util-linux ca-certificates curl python3 zstd
    tar gzip gcc libc6-dev
)

# trixie packages unpacked into the private CRIU prefix.
CRIU_DEBS=(
    criu libcompel1 libc6 libgnutls30t64 libnftables1 libnftnl11 libprotobuf-c1
    libnet1 libbsd0 libnl-3-200 libmnl0 libjansson4 libxtables12 libidn2-0
    libunistring5 libtasn1-6 libnettle8t64 libhogweed6t64 libp11-kit0 libgmp10
    libffi8 libmd0 libuuid1 libedit2 libbpf1 libelf1t64 libzstd1 zlib1g libtinfo6
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
}

# ------------------------------------------------------------------ 2. CRIU

# version_ge A B: true if version A >= B.
version_ge() { dpkg --compare-versions "$1" ge "$2"; }

criu_version() { { criu --version 2>/dev/null || true; } | sed -n 's/^Version: *//p' | head -n1; }

# True if a `criu` on PATH is recent enough and passes `criu check`.
criu_ok() {
    local v
    command -v criu >/dev/null || return 1
    v=$(criu_version)
    [ -n "$v" ] && version_ge "$v" "$CRIU_MIN_VERSION" || return 1
    criu check >/dev/null 2>&1
}

# Mirror URI of the machine's main (non-security) Debian entry.
debian_mirror_uri() {
    local codename f uri=
    # shellcheck disable=SC1091
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || die "cannot tell the Debian codename from /etc/os-release"
    for f in /etc/apt/sources.list.d/*.sources; do
        if [ ! -e "$f" ] || [ "$f" = "$APT_SOURCE_FILE" ]; then continue; fi
        # deb822: stanzas separated by blank lines; pick one whose Suites
        # contain exactly "$codename" and whose Types contain "deb".
        uri=$(awk -v cn="$codename" '
            function flush() { if (isdeb && hassuite && u != "" && out == "") out = u; isdeb = hassuite = 0; u = "" }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:"  { for (i = 2; i <= NF; i++) if ($i == "deb") isdeb = 1 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == cn) hassuite = 1 }
            tolower($1) == "uris:"   { u = $2 }
            END { flush(); print out }' "$f")
        [ -n "$uri" ] && break
    done
    if [ -z "$uri" ]; then
        # One-line format: deb [options] URI SUITE COMPONENTS...
        uri=$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
              sed -e 's/#.*//' -e 's/\[[^]]*\]//' |
              awk -v cn="$codename" '$1 == "deb" && $3 == cn { print $2; exit }')
    fi
    [ -n "$uri" ] || die "no '$codename' entry found in the apt sources to copy the mirror URI from"
    echo "${uri%/}"
}

add_extra_suite() {
    local uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg extra='' want='' changed=''
    uri=$(debian_mirror_uri)
    [ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
    case $uri in *snapshot*) extra=$'\nCheck-Valid-Until: no' ;; esac
    want="# Added by crpod contrib/provision.sh: trixie, only to fetch a recent CRIU.
# Pinned low in $APT_PIN_FILE, so nothing upgrades to it.
Types: deb
URIs: $uri
Suites: $EXTRA_SUITE
Components: main
Signed-By: $keyring$extra"
    if [ "$(cat "$APT_SOURCE_FILE" 2>/dev/null)" != "$want" ]; then
        log "adding apt source $APT_SOURCE_FILE ($uri $EXTRA_SUITE)"
        printf '%s\n' "$want" > "$APT_SOURCE_FILE"
        changed=1
    fi
    want="# Added by crpod contrib/provision.sh: never upgrade anything to $EXTRA_SUITE.
Package: *
Pin: release n=$EXTRA_SUITE
Pin-Priority: 100"
    if [ "$(cat "$APT_PIN_FILE" 2>/dev/null)" != "$want" ]; then
        log "pinning $EXTRA_SUITE at priority 100 in $APT_PIN_FILE"
        printf '%s\n' "$want" > "$APT_PIN_FILE"
    fi
    if [ -n "$changed" ] || ! compgen -G "/var/lib/apt/lists/*_dists_${EXTRA_SUITE}_*Packages*" >/dev/null; then
        apt_update force
    else
        apt_update
    fi
}

# Library directories of the private prefix, ':'-separated.
prefix_libpath() {
    local p=$1 d out=
    for d in "$p/usr/lib/x86_64-linux-gnu" "$p/lib/x86_64-linux-gnu"; do
        [ -d "$d" ] && out=${out:+$out:}$d
    done
    echo "$out"
}

install_private_criu() {
    local dl=$TMPDIR_PROV/debs stage="${CRIU_PREFIX}.new" args=() p deb ldso libpath bad
    [ "$(dpkg --print-architecture)" = amd64 ] || die "the private CRIU is only set up for amd64"
    add_extra_suite

    log "downloading $EXTRA_SUITE packages: ${CRIU_DEBS[*]}"
    mkdir -p "$dl"
    chmod 0755 "$TMPDIR_PROV"               # let apt download sandboxed
    chown _apt "$dl" 2>/dev/null || true
    for p in "${CRIU_DEBS[@]}"; do args+=("$p/$EXTRA_SUITE"); done
    (cd "$dl" && apt-get download -q "${args[@]}") || die "apt-get download from $EXTRA_SUITE failed"

    log "unpacking into $CRIU_PREFIX"
    rm -rf "$stage"
    mkdir -p "$stage"
    for deb in "$dl"/*.deb; do dpkg -x "$deb" "$stage"; done

    ldso=$stage/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
    if [ ! -x "$ldso" ] || [ ! -x "$stage/usr/sbin/criu" ]; then
        die "unpacked prefix lacks ld.so or criu"
    fi
    # Every library criu needs must resolve inside the prefix (the private
    # loader would otherwise silently fall back to the host's libraries).
    libpath=$(prefix_libpath "$stage")
    bad=$("$ldso" --library-path "$libpath" --list "$stage/usr/sbin/criu" |
          awk -v s="$stage/" '/=>/ && $1 !~ /^linux-vdso/ && index($3, s) != 1 { print $1 " => " $3 }')
    [ -z "$bad" ] || die "libraries not resolved inside the prefix (add their packages to CRIU_DEBS):"$'\n'"$bad"

    rm -rf "$CRIU_PREFIX"
    mkdir -p "$(dirname "$CRIU_PREFIX")"
    mv "$stage" "$CRIU_PREFIX"
    write_criu_wrapper
}

write_criu_wrapper() {
    local libpath want
    libpath=$(prefix_libpath "$CRIU_PREFIX")
    # --argv0 keeps argv[0] "criu" (for ps and messages); /proc/self/exe of
    # the process is the private ld.so, which criu does not rely on.
    want="#!/bin/sh
# Generated by crpod contrib/provision.sh: trixie's CRIU run with its own
# libc from the private prefix $CRIU_PREFIX (the host libc is untouched).
exec \"$CRIU_PREFIX/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\" \\
    --argv0 criu \\
    --library-path \"$libpath\" \\
    \"$CRIU_PREFIX/usr/sbin/criu\" \"\$@\""
    if [ "$(cat "$CRIU_WRAPPER" 2>/dev/null)" != "$want" ]; then
        log "writing wrapper $CRIU_WRAPPER"
        mkdir -p "$(dirname "$CRIU_WRAPPER")"
        printf '%s\n' "$want" > "$CRIU_WRAPPER.tmp"
        chmod 0755 "$CRIU_WRAPPER.tmp"
        mv "$CRIU_WRAPPER.tmp" "$CRIU_WRAPPER"
    fi
}

provide_criu() {
    if criu_ok; then
        log "criu $(criu_version) at $(command -v criu) passes 'criu check'; nothing to do"
        # Keep our own wrapper in step with this script (no-op if unchanged).
        if [ "$(command -v criu)" = "$CRIU_WRAPPER" ] &&
           [ -x "$CRIU_PREFIX/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ]; then
            write_criu_wrapper
        fi
    else
        if command -v criu >/dev/null; then
            log "$(command -v criu) (version '$(criu_version)') is too old or fails 'criu check'; installing $EXTRA_SUITE's CRIU privately"
        else
            log "no criu found; installing $EXTRA_SUITE's CRIU privately"
        fi
        install_private_criu
        hash -r
        [ "$(command -v criu)" = "$CRIU_WRAPPER" ] ||
            die "another criu ($(command -v criu)) shadows $CRIU_WRAPPER on PATH"
    fi
    local v
    v=$(criu_version)
    [ -n "$v" ] || die "'criu --version' does not work"
    version_ge "$v" "$CRIU_MIN_VERSION" || die "criu $v is older than $CRIU_MIN_VERSION"
    log "criu check:"
    criu check || die "'criu check' failed"
}

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

# ------------------------------------------------------------------- main

install_packages
provide_criu
build_rootfs

runc_version=$(runc --version | head -n1) || die "'runc --version' failed"
echo
echo "crpod provisioning done:"
echo "  runc:   $runc_version ($(command -v runc))"
echo "  criu:   $(command -v criu), version $(criu_version)"
echo "  rootfs: $ROOTFS"
case ":$ORIGINAL_PATH:" in
    *:"$(dirname "$(command -v criu)")":*) ;;
    *) echo "  note: $(dirname "$(command -v criu)") is not on your PATH; add it to run criu by name" ;;
esac
