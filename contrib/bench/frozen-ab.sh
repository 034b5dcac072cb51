#!/usr/bin/env bash
#
# contrib/bench/frozen-ab.sh - two crpod builds side by side on one running container:
# CRIU's frozen time of `crpod checkpoint --leave-running` and the wall time of
# `crpod restore --import` into another pod, the two builds alternating sample by sample.
#
# Usage (as root, after contrib/provision.sh):
#   contrib/bench/frozen-ab.sh OLD_BINDIR NEW_BINDIR [RUNS]     (RUNS default 8)
# Each BINDIR holds a crpod and its helpers (crpod-logger, crpod-pause, ...), e.g. a copy of
# .build-release/release taken before a change, and .build-release/release after it.
#
# What it does: a private --root/--run-root under $CRPOD_BENCH_TMP (default /var/tmp), pods
# "src" and "dst" (crpod's defaults: ipc,net,uts on the default network `crpod`), the busybox
# counter in src (started by NEW).
# Then RUNS rounds of: OLD checkpoints it (-R, --export, --print-stats), NEW does the same;
# then RUNS rounds of: OLD restores NEW's first archive into dst, NEW does the same (each
# restored container is removed again); then RUNS rounds of the checkpoint that stops the
# container (no -R: CRIU kills the tree at the end of the frozen window), each build
# restoring its archive into src again for its next turn. Prints each sample, sorted, and the medians;
# writes them to contrib/bench/results/frozen-ab-<date>.md. Everything is removed on exit.
# The host's conntrack table size changes the frozen time (see `crpod check`): it is printed.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
. contrib/bench/lib.sh
OLD=${1:?usage: frozen-ab.sh OLD_BINDIR NEW_BINDIR [RUNS]}
NEW=${2:?usage: frozen-ab.sh OLD_BINDIR NEW_BINDIR [RUNS]}
RUNS=${3:-8}
ROOTFS=${CRPOD_TEST_ROOTFS:-/var/lib/crpod-test/rootfs-busybox}
WORK=$(mktemp -d "${CRPOD_BENCH_TMP:-/var/tmp}/crpod-frozen-ab-XXXXXX")
export CRPOD_ROOT=$WORK/root CRPOD_RUNROOT=$WORK/run
OUT=contrib/bench/results/frozen-ab-$(date -u +%Y-%m-%d).md

cleanup() {
    "$NEW/crpod" rm -f c >/dev/null 2>&1 || true
    "$NEW/crpod" pod rm -f src >/dev/null 2>&1 || true
    "$NEW/crpod" pod rm -f dst >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$NEW/crpod" pod create src >/dev/null
"$NEW/crpod" pod create dst >/dev/null
"$NEW/crpod" run --pod src --name c --rootfs "$ROOTFS" -- /bin/sh -c 'i=0; while true; do echo $i; i=$((i+1)); sleep 1; done' >/dev/null
sleep 1
for i in $(seq 1 "$RUNS"); do
    for side in OLD NEW; do
        dir=${!side}
        stats=$("$dir/crpod" checkpoint c --leave-running --export "$WORK/$side-$i.tar.zst" --print-stats)
        echo "$stats" | awk -F: '/"frozen_time"/ { gsub(/[^0-9]/, "", $2); print $2 / 1000 }' >> "$WORK/frozen-$side"
    done
done
for i in $(seq 1 "$RUNS"); do
    for side in OLD NEW; do
        dir=${!side}
        start=$EPOCHREALTIME
        "$dir/crpod" restore --import "$WORK/NEW-1.tar.zst" --pod dst --name "r$side$i" >/dev/null
        end=$EPOCHREALTIME
        awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", (e - s) * 1000 }' >> "$WORK/restore-$side"
        "$dir/crpod" rm -f "r$side$i" >/dev/null
    done
done
for i in $(seq 1 "$RUNS"); do
    for side in OLD NEW; do
        dir=${!side}
        stats=$("$dir/crpod" checkpoint c --export "$WORK/stop-$side-$i.tar.zst" --print-stats)
        echo "$stats" | awk -F: '/"frozen_time"/ { gsub(/[^0-9]/, "", $2); print $2 / 1000 }' >> "$WORK/frozen-stop-$side"
        "$dir/crpod" rm c >/dev/null
        "$dir/crpod" restore --import "$WORK/stop-$side-$i.tar.zst" --pod src --name c >/dev/null
    done
done
{
    echo "# frozen-ab $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "OLD: $OLD  NEW: $NEW  runs: $RUNS  conntrack buckets: $(cat /proc/sys/net/netfilter/nf_conntrack_buckets 2>/dev/null || echo none)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| measure | build | samples, sorted (ms) | median |"
    echo "|---|---|---|---|"
    for what in frozen restore frozen-stop; do
        for side in OLD NEW; do
            echo "| $what | $side | $(sort -n "$WORK/$what-$side" | tr '\n' ' ') | $(median "$WORK/$what-$side") |"
        done
    done
} | tee "$OUT"
