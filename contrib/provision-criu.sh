# contrib/provision-criu.sh - step 2 of contrib/provision.sh (sourced by it, not run alone):
# make a CRIU that can checkpoint network services on this kernel available as `criu`.
#
# "Works" means the socket probe passes, not just `criu check`: CRIU must really dump
# crpod-sockprobe (Sources/crpod-sockprobe, built here with gcc), a process holding a TCP
# listener, an established loopback TCP pair and a UDP socket in a network namespace of its
# own, with --tcp-established. `criu check` passes with CRIU 4.1.1 on Linux >= 6.16, yet
# that CRIU cannot dump a single inet socket there (SO_PASSCRED/SO_PASSSEC are refused on
# non-unix sockets since 6.16: `sockets.c: Can't get 1:16 opt: Operation not supported`,
# CRIU issues 2705 and 2718); CRIU 4.2 copes.
#
# Order: the `criu` on PATH if it passes; else the newest Debian CRIU that passes, from
# CRIU_SUITES in order (sid's 4.2.1 today, then trixie's 4.1.1 for older kernels), unpacked
# with its own libc and loader into a versioned private prefix $CRIU_PREFIX.<suite>-<version>
# and run by the wrapper $CRIU_WRAPPER through that loader. $CRIU_PREFIX is a symlink to the
# prefix in use. Installing is stage → probe → rename → atomic switch of the wrapper
# (rename), so a CRIU started at any moment finds a whole prefix; an existing prefix that
# fails the probe is replaced this way. Each suite is an apt source pinned at priority 100
# (nothing upgrades to it) with the mirror URI copied from the machine's own sources.

CRIU_SUITES=(sid trixie)
CRIU_WRAPPER=/usr/local/sbin/criu
CRIU_MIN_VERSION=3.16
SOCKPROBE=$TMPDIR_PROV/crpod-sockprobe
SOCKPROBE_SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/Sources/crpod-sockprobe/sockprobe.c
CRIU_PROBE_ERROR=

# Debian packages unpacked into a private prefix: CRIU, its libraries and that suite's libc.
criu_debs() {
    local libnet=libnet9
    [ "$1" = trixie ] && libnet=libnet1
    echo criu libcompel1 libc6 libgnutls30t64 libnftables1 libnftnl11 libprotobuf-c1 \
        "$libnet" libbsd0 libnl-3-200 libmnl0 libjansson4 libxtables12 libidn2-0 \
        libunistring5 libtasn1-6 libnettle8t64 libhogweed6t64 libp11-kit0 libgmp10 \
        libffi8 libmd0 libuuid1 libedit2 libbpf1 libelf1t64 libzstd1 zlib1g libtinfo6
}

# version_ge A B: true if version A >= B.
version_ge() { dpkg --compare-versions "$1" ge "$2"; }

criu_version() { { "${1:-criu}" --version 2>/dev/null || true; } | sed -n 's/^Version: *//p' | head -n1; }

# ------------------------------------------------------------- the socket probe

build_sockprobe() {
    [ -x "$SOCKPROBE" ] && return 0
    [ -r "$SOCKPROBE_SOURCE" ] || die "$SOCKPROBE_SOURCE missing (run provision.sh from a crpod checkout)"
    gcc -O2 -D_GNU_SOURCE -o "$SOCKPROBE" "$SOCKPROBE_SOURCE" || die "cannot build the socket probe"
}

# criu_dumps_sockets CRIU: true if CRIU dumps a fresh crpod-sockprobe with --tcp-established.
# Its network namespace is external (as a pod's is for runc), so it and everything CRIU did
# to lock it vanish with the probe; CRIU kills the probe after a good dump, this function
# after a bad one. On failure CRIU_PROBE_ERROR holds the first telling line of CRIU's log.
criu_dumps_sockets() {
    local criu=$1 pid netns images rc=0
    build_sockprobe
    pid=$("$SOCKPROBE") || die "crpod-sockprobe did not start"
    netns=$(readlink "/proc/$pid/ns/net") && netns=${netns#net:[} && netns=${netns%]}
    images=$(mktemp -d "$TMPDIR_PROV/probe.XXXXXX")
    "$criu" dump -t "$pid" -D "$images" -o dump.log --tcp-established \
        --external "net[$netns]:crpod-sockprobe" >/dev/null 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        kill -KILL "$pid" 2>/dev/null || true
        CRIU_PROBE_ERROR=$(awk '/Error \(/ && !/RLIMIT_NOFILE/ { print; exit }' "$images/dump.log" 2>/dev/null || true)
        CRIU_PROBE_ERROR=${CRIU_PROBE_ERROR:-"criu dump exited with $rc"}
    fi
    rm -rf "$images"
    return "$rc"
}

# criu_usable CRIU: recent enough, `criu check` passes, and it dumps sockets.
criu_usable() {
    local criu=$1 v
    CRIU_PROBE_ERROR=
    v=$(criu_version "$criu")
    if [ -z "$v" ] || ! version_ge "$v" "$CRIU_MIN_VERSION"; then
        CRIU_PROBE_ERROR="version '$v' is older than $CRIU_MIN_VERSION"; return 1
    fi
    if ! "$criu" check >/dev/null 2>&1; then CRIU_PROBE_ERROR="'criu check' fails"; return 1; fi
    criu_dumps_sockets "$criu"
}

# ------------------------------------------------------------------ apt sources

# Mirror URI of the machine's main (non-security) Debian entry.
debian_mirror_uri() {
    local codename f uri=
    # shellcheck disable=SC1091
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || die "cannot tell the Debian codename from /etc/os-release"
    for f in /etc/apt/sources.list.d/*.sources; do
        case $f in */crpod-*) continue ;; esac
        [ -e "$f" ] || continue
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

# add_extra_suite SUITE: an apt source for SUITE, pinned at priority 100, lists fetched.
add_extra_suite() {
    local suite=$1 uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg extra='' want='' changed=''
    local source_file=/etc/apt/sources.list.d/crpod-$suite.sources pin_file=/etc/apt/preferences.d/crpod-$suite
    uri=$(debian_mirror_uri)
    [ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
    case $uri in *snapshot*) extra=$'\nCheck-Valid-Until: no' ;; esac
    want="# Added by crpod contrib/provision.sh: $suite, only to fetch a recent CRIU.
# Pinned low in $pin_file, so nothing upgrades to it.
Types: deb
URIs: $uri
Suites: $suite
Components: main
Signed-By: $keyring$extra"
    if [ "$(cat "$source_file" 2>/dev/null)" != "$want" ]; then
        log "adding apt source $source_file ($uri $suite)"
        printf '%s\n' "$want" > "$source_file"
        changed=1
    fi
    want="# Added by crpod contrib/provision.sh: never upgrade anything to $suite.
Package: *
Pin: release n=$suite
Pin-Priority: 100"
    if [ "$(cat "$pin_file" 2>/dev/null)" != "$want" ]; then
        log "pinning $suite at priority 100 in $pin_file"
        printf '%s\n' "$want" > "$pin_file"
    fi
    if [ -n "$changed" ] || ! compgen -G "/var/lib/apt/lists/*_dists_${suite}_*Packages*" >/dev/null; then
        apt_update force
    else
        apt_update
    fi
}

# remove_unused_suites KEPT: drop crpod's apt sources of the other CRIU suites.
remove_unused_suites() {
    local suite
    for suite in "${CRIU_SUITES[@]}"; do
        [ "$suite" = "$1" ] && continue
        if [ -e "/etc/apt/sources.list.d/crpod-$suite.sources" ]; then
            log "removing the apt source of $suite (its CRIU is not needed)"
            rm -f "/etc/apt/sources.list.d/crpod-$suite.sources" "/etc/apt/preferences.d/crpod-$suite"
        fi
    done
}

# ------------------------------------------------------------ private prefixes

# Library directories of a private prefix, ':'-separated.
prefix_libpath() {
    local p=$1 d out=
    for d in "$p/usr/lib/x86_64-linux-gnu" "$p/lib/x86_64-linux-gnu"; do
        [ -d "$d" ] && out=${out:+$out:}$d
    done
    echo "$out"
}

# private_wrapper_text PREFIX PROGRAM NAME WHAT: a script running PREFIX/PROGRAM (WHAT, for
# the comment) as NAME through PREFIX's own loader and libraries.
private_wrapper_text() {
    # --argv0 keeps argv[0] NAME (for ps and messages); /proc/self/exe of
    # the process is the private ld.so, which criu and checkpointctl do not rely on.
    echo "#!/bin/sh
# Generated by crpod contrib/provision.sh: $4 run with its own
# libc from the private prefix $1 (the host libc is untouched).
exec \"$1/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\" \\
    --argv0 $3 \\
    --library-path \"$(prefix_libpath "$1")\" \\
    \"$1/$2\" \"\$@\""
}

# wrapper_text PREFIX: a script running the CRIU of PREFIX through PREFIX's own loader.
wrapper_text() { private_wrapper_text "$1" usr/sbin/criu criu "a Debian CRIU"; }

# check_prefix_libraries STAGE PROGRAM WHAT: every library PROGRAM needs resolves inside
# STAGE (the private loader would otherwise silently fall back to the host's libraries).
check_prefix_libraries() {
    local stage=$1 ldso=$1/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 bad
    if [ ! -x "$ldso" ] || [ ! -x "$stage/$2" ]; then die "the unpacked $3 prefix lacks ld.so or $2"; fi
    bad=$("$ldso" --library-path "$(prefix_libpath "$stage")" --list "$stage/$2" |
          awk -v s="$stage/" '/=>/ && $1 !~ /^linux-vdso/ && index($3, s) != 1 { print $1 " => " $3 }')
    [ -z "$bad" ] || die "libraries not resolved inside the $3 prefix (add their packages):"$'\n'"$bad"
}

# write_criu_wrapper PREFIX: point $CRIU_WRAPPER at PREFIX in one rename.
write_criu_wrapper() {
    local want
    want=$(wrapper_text "$1")
    [ "$(cat "$CRIU_WRAPPER" 2>/dev/null)" = "$want" ] && return 0
    log "writing wrapper $CRIU_WRAPPER → $1"
    mkdir -p "$(dirname "$CRIU_WRAPPER")"
    printf '%s\n' "$want" > "$CRIU_WRAPPER.tmp"
    chmod 0755 "$CRIU_WRAPPER.tmp"
    mv -f "$CRIU_WRAPPER.tmp" "$CRIU_WRAPPER"
}

# unpack_suite_debs SUITE DLDIR PREFIX PACKAGE...: download PACKAGEs of SUITE (its apt source
# added) into DLDIR and unpack them all into a new staging directory PREFIX.stage.*, printed.
unpack_suite_debs() {
    local suite=$1 dl=$2 prefix=$3 stage args=() p deb
    shift 3
    add_extra_suite "$suite" >&2
    log "downloading $suite packages: $*" >&2
    mkdir -p "$dl"
    chmod 0755 "$TMPDIR_PROV"               # let apt download sandboxed
    chown _apt "$dl" 2>/dev/null || true
    for p in "$@"; do args+=("$p/$suite"); done
    (cd "$dl" && apt-get download -q "${args[@]}" >&2) || die "apt-get download from $suite failed"
    stage=$(mktemp -d "$prefix.stage.XXXXXX")
    chmod 0755 "$stage"
    for deb in "$dl"/*.deb; do dpkg -x "$deb" "$stage"; done
    echo "$stage"
}

# stage_private_criu SUITE: download and unpack SUITE's CRIU into a staging directory and
# check that every library resolves inside it. Prints the staging directory.
stage_private_criu() {
    local suite=$1 stage
    # shellcheck disable=SC2046  # one word per package
    stage=$(unpack_suite_debs "$suite" "$TMPDIR_PROV/debs-$suite" "$CRIU_PREFIX" $(criu_debs "$suite"))
    check_prefix_libraries "$stage" usr/sbin/criu "$suite CRIU (criu_debs)"
    echo "$stage"
}

# activate_private_criu STAGE SUITE: rename STAGE to its versioned prefix, switch the wrapper
# to it (the atomic step), repoint the $CRIU_PREFIX symlink, then remove older prefixes.
activate_private_criu() {
    local stage=$1 suite=$2 version prefix old
    version=$(dpkg-deb -f "$TMPDIR_PROV/debs-$suite"/criu_*.deb Version)
    prefix=$CRIU_PREFIX.$suite-${version//[^A-Za-z0-9.+-]/_}
    old=$([ -L "$CRIU_PREFIX" ] && readlink -f "$CRIU_PREFIX" || true)   # (readlink -f of a missing name is the name itself)
    # Never replace a directory in place: the wrapper may be using it (a broken install of
    # the same version is switched away from like any other).
    [ -e "$prefix" ] && prefix=$prefix.$$
    mv -T "$stage" "$prefix"
    write_criu_wrapper "$prefix"
    if [ -d "$CRIU_PREFIX" ] && [ ! -L "$CRIU_PREFIX" ]; then
        mv -T "$CRIU_PREFIX" "$CRIU_PREFIX.retired.$$"   # the old layout: a plain directory
        old=$CRIU_PREFIX.retired.$$
    fi
    ln -sfn "$(basename "$prefix")" "$CRIU_PREFIX.link.$$"
    mv -T "$CRIU_PREFIX.link.$$" "$CRIU_PREFIX"
    if [ -n "$old" ] && [ -d "$old" ]; then
        sleep 1   # a wrapper exec'd just before the switch may still be opening its libraries
        log "removing the previous prefix $old"
        rm -rf "$old"
    fi
}

# install_private_criu: the first suite of CRIU_SUITES whose CRIU passes the probe.
install_private_criu() {
    local suite stage
    [ "$(dpkg --print-architecture)" = amd64 ] || die "the private CRIU is only set up for amd64"
    mkdir -p "$(dirname "$CRIU_PREFIX")"
    rm -rf "$CRIU_PREFIX".stage.* "$CRIU_PREFIX.new"
    for suite in "${CRIU_SUITES[@]}"; do
        stage=$(stage_private_criu "$suite")
        printf '%s\n' "$(wrapper_text "$stage")" > "$TMPDIR_PROV/criu-$suite"
        chmod 0755 "$TMPDIR_PROV/criu-$suite"
        if criu_usable "$TMPDIR_PROV/criu-$suite"; then
            log "$suite's CRIU $(criu_version "$TMPDIR_PROV/criu-$suite") passes the socket probe"
            activate_private_criu "$stage" "$suite"
            remove_unused_suites "$suite"
            return 0
        fi
        log "$suite's CRIU fails the socket probe: $CRIU_PROBE_ERROR"
        rm -rf "$stage"
    done
    die "no Debian CRIU (${CRIU_SUITES[*]}) can dump sockets on kernel $(uname -r)"
}

provide_criu() {
    local current
    current=$(command -v criu || true)
    if [ -n "$current" ] && criu_usable "$current"; then
        log "criu $(criu_version) at $current passes the socket probe; nothing to install"
        # Keep our own wrapper in step with this script (no-op if unchanged).
        if [ "$current" = "$CRIU_WRAPPER" ] && [ -x "$CRIU_PREFIX/usr/sbin/criu" ]; then
            write_criu_wrapper "$(readlink -f "$CRIU_PREFIX")"
        fi
    else
        if [ -n "$current" ]; then
            log "$current (version '$(criu_version)') is not usable: $CRIU_PROBE_ERROR"
        else
            log "no criu found"
        fi
        install_private_criu
        hash -r
        [ "$(command -v criu)" = "$CRIU_WRAPPER" ] ||
            die "another criu ($(command -v criu)) shadows $CRIU_WRAPPER on PATH"
        criu_usable criu || die "the installed criu fails the socket probe: $CRIU_PROBE_ERROR"
    fi
    log "criu check:"
    criu check || die "'criu check' failed"
}
