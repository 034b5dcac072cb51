#!/usr/bin/env bash
# contrib/test.sh - run crpod's whole test suite: unit tests and the privileged tests that
# drive real runc and CRIU (those need root and a provisioned host).
#
# Usage (as root, from anywhere):  contrib/test.sh [--no-provision] [swift test arguments...]
#   Provisions the host first (contrib/provision.sh, idempotent), builds every product
#   (the tests run the built crpod, crpod-pause, crpod-logger and crpod-sockprobe), then runs `swift test`.
#   With CI=true the privileged tests never skip: a missing tool fails them, and the fuzz
#   targets then replay their regressions and fuzz briefly (contrib/fuzz.sh --brief: 20 s
#   each); set CRPOD_FUZZ=brief to do that outside CI too, CRPOD_FUZZ=off to skip it.
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

swift build
swift test "$@"

fuzz=${CRPOD_FUZZ:-$([[ "${CI:-}" == true ]] && echo brief || echo off)}
if [[ "$fuzz" == brief ]]; then
    contrib/fuzz.sh --brief
fi
