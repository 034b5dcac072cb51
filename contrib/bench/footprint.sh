#!/usr/bin/env bash
#
# contrib/bench/footprint.sh - what the appliance binary's bytes are and what an idle daemon
# keeps resident (BENCHMARKS.md "Appliance footprint (issue 14)").
#
# Usage (as root, after contrib/provision.sh and contrib/build-static.sh):
#   contrib/bench/footprint.sh [STARTS]        (STARTS >= 1, default 5)
#
# Prints, for $CRPOD (default: contrib/build-static.sh's crpod):
#   1. the stripped size and its biggest ELF sections (size -A);
#   2. the symbol bytes per Swift module (from the mangled name: $s<len><Module>…), the
#      stdlib ($ss…), the Swift runtime, ICU, CoreFoundation tables and other C code;
#   3. idle RSS: a daemon (with an API socket and a watched spool, like daemon-bench.sh) is
#      started STARTS times; VmRSS 3 s after /v1/health answers, the median, and for the
#      last start smaps_rollup and the resident/private-dirty kB per mapped file.
# The lean build: CRPOD=$(contrib/build-static.sh --without-registry --show-bin-path)/crpod.
# Environment: CRPOD, CRPOD_TEST_ROOTFS, CRPOD_BENCH_TMP (default /var/tmp), and any
# environment for the daemon itself (e.g. MALLOC_ARENA_MAX) is passed through.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STARTS=${1:-5}
CRPOD=${CRPOD:-$("$REPO/contrib/build-static.sh" --show-bin-path)/crpod}
SRC_ROOTFS=${CRPOD_TEST_ROOTFS:-/var/lib/crpod-test/rootfs-busybox}
TMP_PARENT=${CRPOD_BENCH_TMP:-/var/tmp}
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export LC_ALL=C
export CRPOD_HELPER_DIR=${CRPOD_HELPER_DIR:-$(dirname "$CRPOD")}
source "$HERE/lib.sh"
die() { printf 'footprint.sh: ERROR: %s\n' "$*" >&2; exit 1; }

case $STARTS in -h|--help) usage_from_header "$0"; exit 0 ;; esac
[[ "$STARTS" =~ ^[1-9][0-9]*$ ]] || die "STARTS must be a number >= 1 (got $STARTS)"
require_host contrib/build-static.sh strip size nm curl awk   # (lib.sh)

TAG=crpod-footprint-$$
WORK=$(mktemp -d "$TMP_PARENT/$TAG.XXXXXX")
DAEMON_PID=""
G=(--root "$WORK/root" --run-root "$WORK/run" --config "$WORK/crpod.conf")
cleanup() {
    set +e
    [ -n "$DAEMON_PID" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    "$CRPOD" pod rm -f "${G[@]}" idle >/dev/null 2>&1
    for h in /sys/fs/cgroup/*/"$TAG" /sys/fs/cgroup/"$TAG"; do [ -d "$h" ] && rmdir "$h" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# ------------------------------------------------------------ 1. size and sections
strip -o "$WORK/crpod.stripped" "$CRPOD"
sync  # a binary just built has page-cache pages not yet written back: smaps counts them as Private_Dirty
echo "## $CRPOD"
echo
echo "stripped: $(stat -c %s "$WORK/crpod.stripped") bytes; sections of 64 KB and more:"
size -A "$WORK/crpod.stripped" | awk 'NR > 2 && $2 >= 65536 { printf "  %-32s %10d\n", $1, $2 }'

# ------------------------------------------------------------ 2. symbol bytes per module
# nm -S prints "address size type name"; a Swift symbol names its module right after $s.
echo
echo "symbol bytes per module (code T/t; data and bss together), 32 KB and more:"
nm -S "$CRPOD" | awk '
    NF < 4 { next }
    {
        size = 0; hex = tolower($2)
        for (i = 1; i <= length(hex); i++) size = size * 16 + index("0123456789abcdef", substr(hex, i, 1)) - 1
        name = $4; kind = ($3 ~ /^[tTwW]$/) ? "code" : "data"
        if (match(name, /^_?\$s[0-9]+/)) {
            len = substr(name, RSTART, RLENGTH); sub(/^_?\$s/, "", len)
            module = substr(name, RSTART + RLENGTH, len + 0)
        } else if (name ~ /^_?\$s[sS]/) module = "Swift (stdlib)"
        else if (name ~ /^_?\$s/) module = "Swift (other)"
        else if (name ~ /icu_[0-9]|^u_|^ucnv|^ures|^udata/) module = "ICU"
        else if (name ~ /^_?_?CF|^kCF/) module = "CoreFoundation tables"
        else if (name ~ /^_?swift_|^_ZN5swift|^_ZN12_GLOBAL__N_1/) module = "Swift runtime (C++)"
        else if (name ~ /^_?dispatch_|^_dispatch/) module = "libdispatch"
        else module = "C and other"
        bytes[module " " kind] += size; total += size
    }
    END {
        for (k in bytes) if (bytes[k] >= 32768) printf "  %9d  %s\n", bytes[k], k | "sort -rn"
        close("sort -rn"); printf "  %9d  total of all symbol sizes\n", total
    }'

# ------------------------------------------------------------ 3. idle RSS
mkdir -p "$WORK/archives" "$WORK/spool"
printf 'cgroup_parent = "/%s"\napi_dir = %s\nallow_rootfs = %s\n' "$TAG" "$WORK/archives" "$SRC_ROOTFS" > "$WORK/crpod.conf"
"$CRPOD" pod create "${G[@]}" idle >/dev/null
SOCK=$WORK/run/api.sock
samples=()
for start in $(seq 1 "$STARTS"); do
    "$CRPOD" daemon "${G[@]}" --socket "$SOCK" --watch "$WORK/spool:idle" 2>"$WORK/daemon.log" &
    DAEMON_PID=$!
    for _ in $(seq 1 200); do [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://crpod/v1/health >/dev/null && break; sleep 0.05; done
    sleep 3
    samples+=("$(awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status")")
    if [ "$start" = "$STARTS" ]; then
        echo
        echo "last start: $(ls "/proc/$DAEMON_PID/task" | wc -l) threads; smaps_rollup (kB):"
        grep -E '^(Rss|Pss|Shared_Clean|Private_Clean|Private_Dirty|Anonymous):' "/proc/$DAEMON_PID/smaps_rollup" | awk '{printf "  %-15s %7d\n", $1, $2}'
        echo "resident kB per mapping (file, or anonymous), with the private dirty part:"
        awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anonymous]" : $6) }
             /^Rss:/ { rss[name] += $2 } /^Private_Dirty:/ { dirty[name] += $2 }
             END { for (n in rss) if (rss[n] >= 64) printf "  %7d rss %7d dirty  %s\n", rss[n], dirty[n], n | "sort -rn" }' "/proc/$DAEMON_PID/smaps"
    fi
    kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=""
done
sorted=$(printf '%s\n' "${samples[@]}" | sort -n)
median=$(echo "$sorted" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
echo
echo "idle VmRSS over $STARTS starts (kB): $(echo $sorted); median $median kB = $(( (median + 512) / 1024 )) MiB"
