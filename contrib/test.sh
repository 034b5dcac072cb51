#!/usr/bin/env bash
# contrib/test.sh - run crpod's whole test suite: unit tests and the privileged tests that
# drive real runc and CRIU (those need root and a provisioned host).
#
# Usage (as root, from anywhere):  contrib/test.sh [--no-provision] [swift test arguments...]
#   Provisions the host first (contrib/provision.sh, idempotent), builds every product
#   (the tests run the built crpod, crpod-pause, crpod-logger, crpod-sockprobe and crpod-shmattach), then runs `swift test`,
#   and, as root on a hybrid or v1 host, the integration suite again under cgroup v2 only —
#   once per engine in CRPOD_TEST_ENGINES (each other engine also reruns it on the host).
#   With CI=true the privileged tests never skip: a missing tool fails them, and the fuzz
#   targets then replay their regressions and fuzz briefly (contrib/fuzz.sh --brief: 20 s,
#   fixed seed, each); set CRPOD_FUZZ=brief to do that outside CI too, CRPOD_FUZZ=off to skip it.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

provision=1
if [[ "${1:-}" == "--no-provision" ]]; then provision=0; shift; fi
if (( provision )); then
    if [[ $(id -u) -eq 0 ]]; then
        contrib/provision.sh
    else
        echo "test.sh: not root: skipping provisioning; privileged tests will skip" >&2
    fi
fi

# Engines: the whole suite runs with the first (CRPOD_ENGINE, as `crpod --engine`), the
# privileged integration suite again with each other one, and the cgroup v2 pass with each.
# CRPOD_TEST_ENGINES="native" runs one engine only.
read -r -a engines <<< "${CRPOD_TEST_ENGINES:-native runc}"
swift build
# The appliance's lean variant (package trait Registry off: no registry client, see
# contrib/build-static.sh --without-registry) must keep compiling: every RegistryClient call
# needs its refusing twin in RegistryClient+Absent.swift. A debug build, about a minute.
echo "test.sh: building crpod without the Registry trait (.build-lean)" >&2
swift build --disable-default-traits --scratch-path .build-lean --product crpod
CRPOD_ENGINE=${engines[0]} swift test "$@"
if (( $# == 0 )); then
    for engine in "${engines[@]:1}"; do
        echo "test.sh: the integration suite again with --engine $engine" >&2
        CRPOD_ENGINE=$engine swift test --skip-build --filter CrpodIntegrationTests
    done
fi

# Second pass: the privileged integration suite again, unchanged, with cgroup v2 alone at
# /sys/fs/cgroup — the layout of Debian 12 and Ubuntu 24.04 — when this host is hybrid or v1.
# It runs in a private mount namespace (the host's mounts are never touched): the v1 and
# hybrid mounts are unmounted there and cgroup2 is mounted at /sys/fs/cgroup. Processes still
# list their v1 hierarchies in /proc/PID/cgroup, which a v2-only host does not; crpod manages
# only what is mounted. CRPOD_CGROUP_V2_PASS=off skips it; with arguments it runs those
# instead of the integration suite.
v2pass=${CRPOD_CGROUP_V2_PASS:-on}
if [[ "$v2pass" != off && $(id -u) -eq 0 && $(stat -f -c %T /sys/fs/cgroup) != cgroup2fs ]]; then
    (( $# )) && second=("$@") || second=(--filter CrpodIntegrationTests)
    for engine in "${engines[@]}"; do
        echo "test.sh: pass with cgroup v2 only at /sys/fs/cgroup (private mount namespace), --engine $engine" >&2
        CRPOD_ENGINE=$engine unshare -m --propagation private /bin/sh -c \
            'umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec swift test --skip-build "$@"' \
            sh "${second[@]}"
    done
fi

fuzz=${CRPOD_FUZZ:-$([[ "${CI:-}" == true ]] && echo brief || echo off)}
if [[ "$fuzz" == brief ]]; then
    contrib/fuzz.sh --brief
fi
