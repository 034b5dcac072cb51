# contrib/provision-checkpointctl.sh - step 5 of contrib/provision.sh (sourced by it, after
# provision-criu.sh, not run alone): make checkpointctl (the checkpoint-restore project's
# archive reader) available as `checkpointctl`, so the tests can check that another tool reads
# crpod's archives.
#
# Bookworm has no checkpointctl; trixie and sid ship 1.3.0, built against libc >= 2.38. So,
# as for CRIU: the Debian package and that suite's libc are unpacked into a versioned private
# prefix $CHECKPOINTCTL_PREFIX.<suite>-<version> (a symlink $CHECKPOINTCTL_PREFIX names the
# one in use) and the wrapper $CHECKPOINTCTL_WRAPPER runs it through the prefix's own loader;
# the system libc is never touched. The suite is the one crpod's CRIU came from when it came
# from one (its apt source is already there, pinned at priority 100), else the first of
# CRIU_SUITES. Debian's build has no version command, so the version is the package's
# (checked before installing, and kept in the prefix's name); an installed prefix of that
# version whose checkpointctl runs is left alone.

CHECKPOINTCTL_PREFIX=${CRPOD_CHECKPOINTCTL_PREFIX:-/opt/crpod/checkpointctl}
CHECKPOINTCTL_WRAPPER=/usr/local/bin/checkpointctl
CHECKPOINTCTL_VERSION=1.3.0

# The upstream version of a checkpointctl .deb: 1.3.0+ds1-3+b2 -> 1.3.0.
deb_upstream_version() { dpkg-deb -f "$1" Version | sed -e 's/^[0-9]*://' -e 's/[+~-].*//'; }

# True when our wrapper runs checkpointctl from a prefix of CHECKPOINTCTL_VERSION.
checkpointctl_installed() {
    local target
    target=$(basename "$(readlink -f "$CHECKPOINTCTL_PREFIX" 2>/dev/null || true)")
    case $target in checkpointctl.*-"$CHECKPOINTCTL_VERSION"+*|checkpointctl.*-"$CHECKPOINTCTL_VERSION"-*) ;; *) return 1 ;; esac
    [ -x "$CHECKPOINTCTL_WRAPPER" ] && "$CHECKPOINTCTL_WRAPPER" show --help >/dev/null 2>&1
}

# The suite of crpod's CRIU prefix (criu.<suite>-<version>), else the first CRIU suite.
checkpointctl_suite() {
    local target suite
    target=$(basename "$(readlink -f "$CRIU_PREFIX" 2>/dev/null || true)")
    for suite in "${CRIU_SUITES[@]}"; do
        case $target in criu."$suite"-*) echo "$suite"; return ;; esac
    done
    echo "${CRIU_SUITES[0]}"
}

checkpointctl_wrapper_text() { private_wrapper_text "$1" usr/bin/checkpointctl checkpointctl "Debian's checkpointctl"; }

# stage_checkpointctl SUITE: download and unpack checkpointctl and libc6 of SUITE into a
# staging directory, check every library resolves inside it. Prints the staging directory.
stage_checkpointctl() {
    local stage
    stage=$(unpack_suite_debs "$1" "$TMPDIR_PROV/checkpointctl-debs" "$CHECKPOINTCTL_PREFIX" checkpointctl libc6)
    check_prefix_libraries "$stage" usr/bin/checkpointctl "$1 checkpointctl"
    echo "$stage"
}

provide_checkpointctl() {
    local suite stage deb version prefix old
    if checkpointctl_installed; then
        log "checkpointctl $CHECKPOINTCTL_VERSION at $CHECKPOINTCTL_WRAPPER ($(readlink -f "$CHECKPOINTCTL_PREFIX")); nothing to install"
        return 0
    fi
    [ "$(dpkg --print-architecture)" = amd64 ] || die "the private checkpointctl is only set up for amd64"
    mkdir -p "$(dirname "$CHECKPOINTCTL_PREFIX")"
    rm -rf "$CHECKPOINTCTL_PREFIX".stage.*
    suite=$(checkpointctl_suite)
    stage=$(stage_checkpointctl "$suite")
    deb=$(echo "$TMPDIR_PROV"/checkpointctl-debs/checkpointctl_*.deb)
    version=$(deb_upstream_version "$deb")
    [ "$version" = "$CHECKPOINTCTL_VERSION" ] ||
        die "$suite's checkpointctl is $version, not $CHECKPOINTCTL_VERSION (the tests know 1.3.0's output)"
    printf '%s\n' "$(checkpointctl_wrapper_text "$stage")" > "$TMPDIR_PROV/checkpointctl"
    chmod 0755 "$TMPDIR_PROV/checkpointctl"
    "$TMPDIR_PROV/checkpointctl" show --help >/dev/null 2>&1 || die "the staged checkpointctl does not run"
    # Stage → versioned prefix → wrapper (one rename) → symlink → old prefix removed.
    prefix=$CHECKPOINTCTL_PREFIX.$suite-$(dpkg-deb -f "$deb" Version | tr -c 'A-Za-z0-9.+\n-' _)
    old=$([ -L "$CHECKPOINTCTL_PREFIX" ] && readlink -f "$CHECKPOINTCTL_PREFIX" || true)   # (readlink -f of a missing name is the name itself)
    [ -e "$prefix" ] && prefix=$prefix.$$
    mv -T "$stage" "$prefix"
    mkdir -p "$(dirname "$CHECKPOINTCTL_WRAPPER")"
    printf '%s\n' "$(checkpointctl_wrapper_text "$prefix")" > "$CHECKPOINTCTL_WRAPPER.tmp"
    chmod 0755 "$CHECKPOINTCTL_WRAPPER.tmp"
    mv -f "$CHECKPOINTCTL_WRAPPER.tmp" "$CHECKPOINTCTL_WRAPPER"
    ln -sfn "$(basename "$prefix")" "$CHECKPOINTCTL_PREFIX.link.$$"
    mv -T "$CHECKPOINTCTL_PREFIX.link.$$" "$CHECKPOINTCTL_PREFIX"
    if [ -n "$old" ] && [ -d "$old" ] && [ "$old" != "$prefix" ]; then rm -rf "$old"; fi
    hash -r
    log "checkpointctl $version from $suite at $CHECKPOINTCTL_WRAPPER (prefix $prefix)"
}
