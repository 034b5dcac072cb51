#!/usr/bin/env bash
#
# contrib/bench/daemon-bench.sh - the daemon's numbers: auto-restore latency vs the CLI,
# API restore vs the CLI, 20 archives dropped at once for 5 pods, idle RSS, binary size.
#
# Usage (as root, after contrib/provision.sh and the appliance build of crpod,
#   contrib/build-static.sh, into .build-static):
#   contrib/bench/daemon-bench.sh [RUNS]        (RUNS >= 5, default 10)
#
# Fixtures, made outside any timing: crpod pod "src" running a busybox counter; pods d0..d4
# (all share ipc,net,uts); RUNS*2 + 20 distinct archives of the counter (checkpoint
# --leave-running, so each differs and none is a duplicate to the spool); a daemon started
# with --watch SPOOL:d0 and its API socket.
#
# Measured, RUNS times each, interleaved (wall clock from bash's $EPOCHREALTIME; an idle host
# before each timed command; every restored container removed after its timing):
#   cli    crpod restore --import A --pod d0 --name N     (returns when the process runs)
#   api    curl POST /v1/restore {importPath, pod d0}      (answers when the process runs)
#   spool  mv A into the spool directory -> its done/<A>.result.json exists (written after
#          the restore returned, so this is an upper bound of "renamed in -> running")
# Then once: 20 archives renamed into the spool within a few ms, with <archive>.target
# sidecars spreading them over d0..d4 -> all 20 result files; checked: 20 in done/, none in
# failed/, 20 containers running, 4 in each pod.
# Idle RSS: VmRSS of the daemon 3 s after READY (no request yet), and again after the runs.
#
# Output: a markdown table printed and written to contrib/bench/results/daemon-<date>.md.
# Target: spool latency <= CLI restore + 25 ms (medians).
#
# Environment: CRPOD (default <repo>/.build-static/release/crpod), CRPOD_TEST_ROOTFS,
# CRPOD_BENCH_TMP (default /var/tmp), CRPOD_BENCH_OUT, CRPOD_BENCH_QUIET_IDLE (default 85),
# CRPOD_BENCH_QUIET_TIMEOUT (default 60).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUNS=${1:-10}
CRPOD=${CRPOD:-$REPO/.build-static/release/crpod}
SRC_ROOTFS=${CRPOD_TEST_ROOTFS:-/var/lib/crpod-test/rootfs-busybox}
TMP_PARENT=${CRPOD_BENCH_TMP:-/var/tmp}
DATE=$(date -u +%Y-%m-%d)
OUT=${CRPOD_BENCH_OUT:-$HERE/results/daemon-$DATE.md}
COUNTER_CMD='i=0; while true; do echo $i; i=$((i+1)); sleep 1; done'
QUIET_IDLE=${CRPOD_BENCH_QUIET_IDLE:-85}
QUIET_TIMEOUT=${CRPOD_BENCH_QUIET_TIMEOUT:-60}
NOISY=0
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export LC_ALL=C

source "$HERE/lib.sh"
die() { printf 'daemon-bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }

check_runs   # --help, or RUNS a number >= 5 (lib.sh)
require_host contrib/build-static.sh runc criu curl jq strip   # (lib.sh)

TAG=crpod-dbench-$$
WORK=$(mktemp -d "$TMP_PARENT/$TAG.XXXXXX")
DAEMON_PID=""
mkdir -p "$WORK/data" "$WORK/archives" "$WORK/spool"
printf 'cgroup_parent = "/%s"\napi_dir = %s\nmax_queued = 64\nallow_rootfs = %s\n' "$TAG" "$WORK/archives" "$SRC_ROOTFS" > "$WORK/crpod.conf"
G=(--root "$WORK/root" --run-root "$WORK/run" --config "$WORK/crpod.conf")
SOCK=$WORK/run/api.sock

cleanup() {
    set +e
    trap - ERR
    log "cleaning up"
    [ -n "$DAEMON_PID" ] && kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    for c in $("$CRPOD" ps -a -q "${G[@]}" 2>/dev/null); do "$CRPOD" rm -f "${G[@]}" "$c" >/dev/null 2>&1; done
    for p in $("$CRPOD" pod ls -q "${G[@]}" 2>/dev/null); do "$CRPOD" pod rm -f "${G[@]}" "$p" >/dev/null 2>&1; done
    for h in /sys/fs/cgroup/*/"$TAG" /sys/fs/cgroup/unified/"$TAG"; do [ -d "$h" ] && rmdir "$h" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'die "failed at line $LINENO"' ERR

crpod() { "$CRPOD" "$1" "${G[@]}" "${@:2}"; }
pod() { "$CRPOD" pod "$1" "${G[@]}" "${@:2}"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ------------------------------------------------------------ fixtures
log "fixtures: pods, counter, $(( RUNS * 2 + 20 )) distinct archives"
pod create src >/dev/null
for i in 0 1 2 3 4; do pod create "d$i" >/dev/null; done
crpod run --name counter --pod src --rootfs "$SRC_ROOTFS" -- sh -c "$COUNTER_CMD" >/dev/null
sleep 1.2
for i in $(seq 1 $(( RUNS * 2 + 20 ))); do
    crpod checkpoint --leave-running --export "$WORK/archives/a$i.tar.zst" counter >/dev/null
done

log "daemon"
"$CRPOD" daemon "${G[@]}" --socket "$SOCK" --watch "$WORK/spool:d0" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 1 200); do [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://crpod/v1/health >/dev/null && break; sleep 0.05; done
sleep 3
RSS_IDLE=$(rss_kib "$DAEMON_PID")

remove() { crpod rm -f "$1" >/dev/null; }

# ------------------------------------------------------------ timed runs
next=1
for run in $(seq 1 "$RUNS"); do
    log "run $run/$RUNS"
    a=$WORK/archives/a$next.tar.zst; next=$(( next + 1 ))
    wait_quiet; t0=$(now_us)
    crpod restore --import "$a" --pod d0 --name "cli$run" >/dev/null
    t1=$(now_us); record cli restore $(( (t1 - t0) / 1000 )); remove "cli$run"

    wait_quiet; t0=$(now_us)
    code=$(curl -s -o "$WORK/api.out" -w '%{http_code}' --unix-socket "$SOCK" -X POST http://crpod/v1/restore \
        -d "{\"importPath\":\"$a\",\"pod\":\"d0\",\"name\":\"api$run\"}")
    t1=$(now_us); [ "$code" = 200 ] || die "API restore: $code $(cat "$WORK/api.out")"
    record api restore $(( (t1 - t0) / 1000 )); remove "api$run"

    a=$WORK/archives/a$next.tar.zst; next=$(( next + 1 ))
    cp "$a" "$WORK/spool/.s$run.tar.zst"
    wait_quiet; t0=$(now_us)
    mv "$WORK/spool/.s$run.tar.zst" "$WORK/spool/s$run.tar.zst"
    until [ -e "$WORK/spool/done/s$run.tar.zst.result.json" ]; do
        [ -e "$WORK/spool/failed/s$run.tar.zst.result.json" ] && die "spool: $(cat "$WORK/spool/failed/s$run.tar.zst.result.json")"
        :
    done
    t1=$(now_us); record spool restore $(( (t1 - t0) / 1000 ))
    remove "$(jq -r .container "$WORK/spool/done/s$run.tar.zst.result.json")"
done

log "20 archives at once for 5 pods"
for i in $(seq 0 19); do
    n=$(( next + i ))
    cp "$WORK/archives/a$n.tar.zst" "$WORK/spool/.b$i.tar.zst"
    echo "d$(( i % 5 ))" > "$WORK/spool/b$i.tar.zst.target"
done
wait_quiet; t0=$(now_us)
for i in $(seq 0 19); do mv "$WORK/spool/.b$i.tar.zst" "$WORK/spool/b$i.tar.zst"; done
until [ "$(ls "$WORK/spool/done" "$WORK/spool/failed" | grep -c '^b.*result.json$')" -eq 20 ]; do sleep 0.01; done
t1=$(now_us)
BURST_MS=$(( (t1 - t0) / 1000 ))
BURST_DONE=$(ls "$WORK/spool/done" | grep -c '^b.*\.result\.json$' || true)
BURST_FAILED=$(ls "$WORK/spool/failed" | grep -c '^b.*\.result\.json$' || true)
PER_POD=$(crpod ps --format json | jq -r '[.[] | select(.name | startswith("b")) | .podName] | group_by(.) | map("\(.[0])=\(length)") | join(" ")')
RUNNING=$(crpod ps --format json | jq '[.[] | select(.name | startswith("b")) | select(.state == "running")] | length')
RSS_AFTER=$(rss_kib "$DAEMON_PID")

STRIPPED=$WORK/crpod.stripped
strip -o "$STRIPPED" "$CRPOD"
SIZE_MB=$(awk -v b="$(stat -c %s "$STRIPPED")" 'BEGIN { printf "%.1f", b / 1048576 }')

# ------------------------------------------------------------ report
read -r cmin cmed cmax <<<"$(stats "$WORK/data/cli.restore")"
read -r amin amed amax <<<"$(stats "$WORK/data/api.restore")"
read -r smin smed smax <<<"$(stats "$WORK/data/spool.restore")"
DELTA=$(awk -v s="$smed" -v c="$cmed" 'BEGIN { printf "%.1f", s - c }')
{
    echo "# crpod daemon benchmark ($DATE)"
    echo
    echo "Host: $(nproc) cores, kernel $(uname -r); runc $(first_line runc --version | awk '{print $3}'); $(first_line criu --version)."
    echo "Binary: $CRPOD ($SIZE_MB MB stripped). Runs: $RUNS, interleaved; samples timed on a busy host: $NOISY."
    echo
    echo "| restore of a busybox counter archive into pod d0 | min ms | median ms | max ms |"
    echo "|---|---|---|---|"
    echo "| CLI: crpod restore --import | $cmin | $cmed | $cmax |"
    echo "| API: POST /v1/restore (curl) | $amin | $amed | $amax |"
    echo "| spool: renamed in -> result written | $smin | $smed | $smax |"
    echo
    echo "Spool latency - CLI restore (medians): **$DELTA ms** (target <= +25 ms: $(verdict "$DELTA" "<=" 25))."
    echo
    echo "20 archives renamed into the spool at once, for 5 pods: all handled in **$BURST_MS ms**"
    echo "($(awk -v t="$BURST_MS" 'BEGIN { printf "%.0f", t / 20 }') ms each; restores run one at a time under the state lock):"
    echo "$BURST_DONE in done/, $BURST_FAILED in failed/, $RUNNING running; per pod: $PER_POD."
    echo
    echo "Daemon RSS: idle $(( RSS_IDLE / 1024 )) MiB ($RSS_IDLE KiB) 3 s after start; $(( RSS_AFTER / 1024 )) MiB after $(( RUNS * 2 + 20 )) restores."
} | tee "$OUT"
log "written to $OUT"
