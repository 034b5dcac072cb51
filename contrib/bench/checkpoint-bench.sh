#!/usr/bin/env bash
#
# contrib/bench/checkpoint-bench.sh - checkpoint + export benchmark:
# crpod vs podman vs bare runc (+ zstd), for containers in pods.
#
# Usage (as root, after contrib/provision.sh, contrib/podman/setup-podman.sh
# and a release build of crpod):
#   contrib/bench/checkpoint-bench.sh [RUNS]        (RUNS >= 5, default 5)
#
# Workloads:
#   counter    busybox sh printing a counter every second
#   dirty-mem  contrib/bench/workloads/dirty-mem.c, 100 MiB of dirty,
#              semi-compressible memory (zstd -3 ratio about 3x)
#
# Measured per workload, each RUNS times, on a fresh container every time
# (start it, wait for its first output line, `sync`, then time only the
# checkpoint command; wall clock from bash's $EPOCHREALTIME):
#   crpod         crpod checkpoint --export F --compress zstd --print-stats
#                 of a container in a crpod pod (shares ipc,net,uts)
#   podman        podman container checkpoint --export F --compress zstd
#                 --print-stats of a container in a podman pod (--share
#                 ipc,net,uts)
#   runc          runc --root <run-root>/runc checkpoint --manage-cgroups-mode
#                 soft --image-path I --work-path W <id> on a crpod-started
#                 container (the same runc call crpod makes, without crpod)
#   tar|zstd      tar -C I -c . | zstd -T2 -3 > x of that run's image dir,
#                 timed separately
#   runc+zstd     runc + tar|zstd of the same run (sum)
# --print-stats does not change what is done (both tools always read CRIU's
# stats-dump); it gives the time spent inside `runc checkpoint`.
#
# Output: a markdown table (min/median/max ms, archive sizes, and the ratios
# podman/crpod and crpod/(runc+zstd) of the medians) printed and written to
# contrib/bench/results/checkpoint-<date>.md.
#
# Everything the run creates (crpod pods and containers, podman pods and
# containers, the work directory, the bench cgroup parent) is removed on exit,
# also on failure or Ctrl-C.  Kept between runs as fixtures: the rootfs
# $CRPOD_BENCH_ROOTFS (busybox + /usr/bin/dirty-mem) and the podman image
# localhost/crpod-bench:latest made from it; both are rebuilt only when the
# dirty-mem binary changes.
#
# Environment:
#   CRPOD               crpod binary (default <repo>/.build-release/release/crpod)
#   CRPOD_TEST_ROOTFS   busybox rootfs (default /var/lib/crpod-test/rootfs-busybox)
#   CRPOD_BENCH_ROOTFS  bench rootfs   (default /var/lib/crpod-test/rootfs-bench)
#   CRPOD_BENCH_TMP     parent of the work directory (default /var/tmp)
#   CRPOD_BENCH_MIB     dirty-mem size in MiB (default 100)
#   CRPOD_BENCH_OUT     result file (default contrib/bench/results/checkpoint-<date>.md)
#   CRPOD_BENCH_QUIET_IDLE     before each timed command, wait until the host's
#                       CPUs were at least this % idle over 0.5 s (default 85;
#                       0 turns it off): on a small shared host a parallel
#                       build otherwise dominates the spread
#   CRPOD_BENCH_QUIET_TIMEOUT  give up waiting after this many seconds and time
#                       anyway (default 120); such samples are counted in the report
#
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUNS=${1:-5}
source "$HERE/lib.sh"   # settings, log, timing, statistics, fixtures and cleanup shared with the other bench scripts
bench_settings
OUT=${CRPOD_BENCH_OUT:-$HERE/results/checkpoint-$DATE.md}
die() { printf 'checkpoint-bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }

check_runs   # --help, or RUNS a number >= 5 (lib.sh)
for v in MIB QUIET_IDLE QUIET_TIMEOUT; do
    case ${!v} in ''|*[!0-9]*) die "$v must be a non-negative integer (got '${!v}')" ;; esac
done
[ "$MIB" -gt 0 ] || die "CRPOD_BENCH_MIB must be positive"
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$CRPOD" ] || die "no crpod at $CRPOD; build it: swift build -c release --scratch-path .build-release (or set CRPOD)"
[ -d "$SRC_ROOTFS/bin" ] || die "no busybox rootfs at $SRC_ROOTFS (run contrib/provision.sh)"
for tool in runc criu podman zstd tar gcc jq sync; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
[ -n "${EPOCHREALTIME:-}" ] || die "bash >= 5 needed (\$EPOCHREALTIME)"

# ------------------------------------------------------------ state + cleanup

TAG=crpod-bench-$$
WORK=""
CG_PARENT=/$TAG
CRPOD_PODS=()
CRPOD_CTRS=()
PODMAN_PODS=()
PODMAN_CTRS=()

cleanup_tools() {   # called by on_exit (lib.sh)
    local c
    for c in "${CRPOD_CTRS[@]}"; do "$CRPOD" rm -f "${CR[@]}" "$c" >/dev/null 2>&1; done
    cleanup_crpod_pods
    cleanup_runc_root "$WORK/run/runc"   # runc state left by an interrupted runc checkpoint
}
install_traps checkpoint-bench.sh
make_work out data logs

# ------------------------------------------------------------ fixtures

bench_fixtures   # dirty-mem, the bench rootfs and the podman image (lib.sh)

# ------------------------------------------------------------ helpers

# ------------------------------------------------------------ pods

log "work directory $WORK ($(fstype "$WORK") on $(fsdev "$WORK"))"
CRPOD_POD=$TAG-pod
"$CRPOD" pod create "${CR[@]}" --share ipc,net,uts --cgroup-parent "$CG_PARENT" "$CRPOD_POD" >/dev/null
CRPOD_PODS+=("$CRPOD_POD")
PODMAN_POD=$TAG-pod
PODMAN_PODS+=("$PODMAN_POD")
podman pod create --name "$PODMAN_POD" --share ipc,net,uts >/dev/null
PODMAN_STORAGE=$(podman info --format '{{.Store.GraphRoot}}')

# ------------------------------------------------------------ one run of each tool

bench_crpod() {   # bench_crpod WORKLOAD RUN
    local w=$1 i=$2 name=$TAG-crpod-$1-$2 t file=$WORK/out/crpod-$1-$2.tar.zst
    local -a cmd
    mapfile -d '' cmd < <(workload_args "$w")
    CRPOD_CTRS+=("$name")
    "$CRPOD" run "${CR[@]}" --name "$name" --pod "$CRPOD_POD" --rootfs "$BENCH_ROOTFS" -- "${cmd[@]}" >/dev/null
    wait_output "crpod container $name" "$(ready_pattern "$w")" "$CRPOD" logs "${CR[@]}" "$name"
    sync
    timed t "$CRPOD" checkpoint "${CR[@]}" --export "$file" --compress zstd --print-stats "$name"
    record crpod "$w" "$t"
    record crpod-runc-part "$w" "$(jq '.container_statistics[0].runtime_checkpoint_duration' "$WORK/logs/last.out")"
    record crpod-size "$w" "$(stat -c %s "$file")"
    "$CRPOD" rm -f "${CR[@]}" "$name" >/dev/null
    rm -f "$file"
}

bench_podman() {   # bench_podman WORKLOAD RUN
    local w=$1 i=$2 name=$TAG-podman-$1-$2 t file=$WORK/out/podman-$1-$2.tar.zst
    local -a cmd
    mapfile -d '' cmd < <(workload_args "$w")
    PODMAN_CTRS+=("$name")
    podman run -d --pod "$PODMAN_POD" --name "$name" "$IMAGE" "${cmd[@]}" >/dev/null
    wait_output "podman container $name" "$(ready_pattern "$w")" podman logs "$name"
    sync
    timed t podman container checkpoint --export "$file" --compress zstd --print-stats "$name"
    record podman "$w" "$t"
    record podman-runc-part "$w" "$(jq '.container_statistics[0].runtime_checkpoint_duration' "$WORK/logs/last.out")"
    record podman-size "$w" "$(stat -c %s "$file")"
    podman rm -f -t 0 "$name" >/dev/null
    rm -f "$file"
}

bench_runc() {   # bench_runc WORKLOAD RUN: runc checkpoint of a crpod container, then tar|zstd
    local w=$1 i=$2 name=$TAG-runc-$1-$2 id t tz
    local img=$WORK/out/runc-img-$1-$2 wrk=$WORK/out/runc-work-$1-$2 file=$WORK/out/runc-$1-$2.tar.zst
    local -a cmd
    mapfile -d '' cmd < <(workload_args "$w")
    CRPOD_CTRS+=("$name")
    id=$("$CRPOD" run "${CR[@]}" --name "$name" --pod "$CRPOD_POD" --rootfs "$BENCH_ROOTFS" -- "${cmd[@]}")
    wait_output "crpod container $name" "$(ready_pattern "$w")" "$CRPOD" logs "${CR[@]}" "$name"
    mkdir -p "$img" "$wrk"
    sync
    timed t runc --root "$WORK/run/runc" checkpoint --manage-cgroups-mode soft \
        --image-path "$img" --work-path "$wrk" "$id"
    record runc "$w" "$t"
    sync
    timed tz sh -c 'tar -C "$1" -c . | zstd -q -T2 -3 > "$2"' sh "$img" "$file"
    record zstd "$w" "$tz"
    record runc+zstd "$w" "$(( t + tz ))"
    record runc-size "$w" "$(stat -c %s "$file")"
    record images-size "$w" "$(du -sb "$img" | cut -f1)"
    "$CRPOD" rm -f "${CR[@]}" "$name" >/dev/null
    rm -rf "$img" "$wrk" "$file"
}

# ------------------------------------------------------------ run

WORKLOADS=(counter dirty-mem)
for w in "${WORKLOADS[@]}"; do
    for i in $(seq 1 "$RUNS"); do
        log "$w run $i/$RUNS"
        # interleaved so that drift on the host hits every tool alike
        bench_crpod "$w" "$i"
        bench_podman "$w" "$i"
        bench_runc "$w" "$i"
    done
done

# ------------------------------------------------------------ report

{
    echo "### Checkpoint + export: crpod vs podman vs runc ($DATE)"
    echo
    report_host_line
    echo "- crpod $("$CRPOD" --version 2>&1 | head -n 1) ($CRPOD), $(first_line runc --version), CRIU $(criu --version 2>&1 | awk '/Version/ {print $2}'), $(first_line podman --version), $(first_line zstd --version | sed 's/^\*\*\* //; s/, by.*//')"
    echo "- $RUNS runs per tool and workload, a fresh container each run, wall-clock ms of the checkpoint command only"
    report_quiet_line
    echo "- files: crpod root/run-root, runc images and all archives under $TMP_PARENT/$TAG.* ($(fstype "$WORK") on $(fsdev "$WORK")); podman's checkpoint images under $PODMAN_STORAGE ($(fstype "$PODMAN_STORAGE") on $(fsdev "$PODMAN_STORAGE"))"
    echo
    echo "| workload | tool | min ms | median ms | max ms | archive MiB (median) |"
    echo "|---|---|---:|---:|---:|---:|"
    for w in "${WORKLOADS[@]}"; do
        label=$(wl_label "$w")
        mib() { awk -v b="$(median "$WORK/data/$1.$w")" 'BEGIN { printf "%.2f", b / 1048576 }'; }
        read -r a b c < <(stats "$WORK/data/crpod.$w" 1000)
        echo "| $label | crpod \`checkpoint --export --compress zstd\` | $a | $b | $c | $(mib crpod-size) |"
        read -r a b c < <(stats "$WORK/data/crpod-runc-part.$w" 1000)
        echo "| $label | &nbsp;&nbsp;of which inside \`runc checkpoint\` (print-stats) | $a | $b | $c | |"
        read -r a b c < <(stats "$WORK/data/podman.$w" 1000)
        echo "| $label | podman \`container checkpoint --export\` (zstd) | $a | $b | $c | $(mib podman-size) |"
        read -r a b c < <(stats "$WORK/data/podman-runc-part.$w" 1000)
        echo "| $label | &nbsp;&nbsp;of which inside \`runc checkpoint\` (print-stats) | $a | $b | $c | |"
        read -r a b c < <(stats "$WORK/data/runc.$w" 1000)
        echo "| $label | \`runc checkpoint\` alone | $a | $b | $c | $(mib images-size) (images, raw) |"
        read -r a b c < <(stats "$WORK/data/zstd.$w" 1000)
        echo "| $label | \`tar \| zstd -T2 -3\` of the images | $a | $b | $c | $(mib runc-size) |"
        read -r a b c < <(stats "$WORK/data/runc+zstd.$w" 1000)
        echo "| $label | runc checkpoint + zstd (sum) | $a | $b | $c | |"
    done
    echo
    echo "Ratios of the medians (targets: podman/crpod ≥ 2× for ${MIB} MiB zstd; crpod/(runc+zstd) ≤ 1.25×):"
    echo
    echo "| workload | podman / crpod | crpod / (runc+zstd) | crpod / runc alone |"
    echo "|---|---:|---:|---:|"
    for w in "${WORKLOADS[@]}"; do
        c=$(median "$WORK/data/crpod.$w"); p=$(median "$WORK/data/podman.$w")
        rz=$(median "$WORK/data/runc+zstd.$w"); r=$(median "$WORK/data/runc.$w")
        pc=$(ratio "$p" "$c"); crz=$(ratio "$c" "$rz")
        if [ "$w" = dirty-mem ]; then
            pcv=" ($(verdict "$pc" '>=' 2))"
        else
            pcv=" (no target)"
        fi
        echo "| $(wl_label "$w") | ${pc}×${pcv} | ${crz}× ($(verdict "$crz" '<=' 1.25)) | $(ratio "$c" "$r")× |"
    done
    echo
    echo "Raw samples (ms):"
    echo
    for w in "${WORKLOADS[@]}"; do
        for t in crpod podman runc zstd; do
            echo "- $w $t: $(awk '{ printf "%s%.1f", (NR > 1 ? " " : ""), $1 / 1000 }' "$WORK/data/$t.$w")"
        done
    done
} > "$WORK/report.md"

publish_report   # lib.sh
