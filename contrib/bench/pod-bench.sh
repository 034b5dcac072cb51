#!/usr/bin/env bash
#
# contrib/bench/pod-bench.sh - moving a whole pod (issue 13): crpod checkpoints a pod of three
# members at one cut into one archive and restores it as a new pod; podman 4.3.1 does the same
# move container by container. Both tools round-robin in one run.
#
# Usage (as root, after contrib/provision.sh and a release build of crpod,
# `swift build -c release --scratch-path .build-release`):
#   contrib/bench/pod-bench.sh [--runs N] [--out FILE]
#
#   --runs N     samples per tool (default 5; env CRPOD_BENCH_RUNS)
#   --out FILE   result file (default contrib/bench/results/pod-<date>.md)
# Podman is installed with contrib/podman/setup-podman.sh when it is missing.
#
# Pod: three members, each the busybox counter (sh printing a counter every second), from the
# bench rootfs (crpod: --rootfs) or the podman image made from it; the pod shares ipc,net,uts
# and has no network but its loopback (--network none), so no CNI/netavark work is timed.
# One sample per tool = a fresh pod with its three members, each waited for until it printed
# its first line, then:
#   crpod    crpod pod checkpoint --export F --compress zstd --print-stats POD   (timed)
#            crpod pod rm -f POD
#            crpod pod restore --import F --name POD-r                           (timed)
#            The outcome's frozenDuration (µs) is the members' frozen time: from the pod's
#            freeze (one cgroup.freeze write, the cut) to the last member's kill.
#   podman   podman container checkpoint --export Fi --compress zstd --print-stats, for each
#            member one after another (each timed; a member stops somewhere inside its own
#            checkpoint, so the members' stop points are at most the skew apart, from the
#            first checkpoint's start to the last one's end, at least from the first one's
#            end to the last one's start, and start to start if each stops at the same point
#            of its checkpoint)
#            podman pod rm -f POD
#            podman pod create (the new pod, same shares and network; timed)
#            podman container restore --import Fi --pod <POD-r's id>, for each member (each
#            timed; without --name each keeps its name)
# Before the checkpoint(s) and before the restore(s): sync, then wait for an idle host as
# lib.sh's wait_quiet does; podman's per-member commands then follow each other at once, as a
# shell loop would run them. Every restored member is checked to be running. The order of
# the tools alternates from round to round. Any failure ends the run.
#
# Reported per tool (median and min–max over the runs, ms): checkpoint wall (podman: the sum
# of its three), how far apart the members' stop points are (crpod: 0, one cut; podman: the
# skew and its lower bound), crpod's frozen time, CRIU's frozen_time summed over the
# members, podman's new pod, restore wall (podman: the sum), downtime = checkpoint + new pod
# + restore, archive KiB.
#
# Output: the table and the raw samples, printed and written to the result file. Everything
# the run creates is removed on exit, also on failure or Ctrl-C: pods, containers, the work
# directory, and the bench rootfs, the podman image localhost/crpod-bench:latest and podman's
# pause image when this run was the one that made them.
#
# Environment: CRPOD, CRPOD_TEST_ROOTFS, CRPOD_BENCH_ROOTFS, CRPOD_BENCH_TMP,
# CRPOD_BENCH_QUIET_IDLE (default 85), CRPOD_BENCH_QUIET_TIMEOUT (default 120): as in
# checkpoint-bench.sh.
#
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUNS=${CRPOD_BENCH_RUNS:-5}
OUT=""
source "$HERE/lib.sh"   # settings, log, timing, statistics, fixtures, cleanup, write_details
bench_settings
die() { printf 'pod-bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage_from_header "$0"; exit 0 ;;
        --runs) RUNS=${2:-}; shift 2 || die "--runs needs a value" ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        --out) OUT=${2:-}; shift 2 || die "--out needs a value" ;;
        --out=*) OUT=${1#*=}; shift ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
OUT=${OUT:-$HERE/results/pod-$DATE.md}
require_numbers RUNS QUIET_IDLE QUIET_TIMEOUT
[ "$RUNS" -ge 1 ] || die "--runs must be at least 1"
require_host "swift build -c release --scratch-path .build-release" runc criu zstd tar gcc jq sync findmnt
require_fixture_host
ensure_podman

# ------------------------------------------------------------ state + cleanup

TAG=crpod-pdb-$$
WORK=""
CG_PARENT=/$TAG
CRPOD_PODS=()
PODMAN_PODS=()
PODMAN_CTRS=()
MEMBERS=(m1 m2 m3)
SHARES=ipc,net,uts
KEY=counter-x3          # the data files' workload key
PAUSE_REPO=localhost/podman-pause
# What this run found before it made its fixtures: what it made, it removes.
HAD_ROOTFS=$([ -e "$BENCH_ROOTFS" ] && echo 1 || true)
HAD_IMAGE=$(podman image exists "$IMAGE" && echo 1 || true)
PAUSE_BEFORE=$(podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$PAUSE_REPO:" || true)

cleanup_tools() {   # called by on_exit (lib.sh), after the podman pods and containers
    local i
    cleanup_crpod_pods
    [ -n "$HAD_IMAGE" ] || podman rmi -f "$IMAGE" >/dev/null 2>&1
    for i in $(podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep "^$PAUSE_REPO:"); do
        grep -qxF "$i" <<< "$PAUSE_BEFORE" || podman rmi "$i" >/dev/null 2>&1
    done
    [ -n "$HAD_ROOTFS" ] || rm -rf "$BENCH_ROOTFS"
}
install_traps pod-bench.sh
make_work out data logs

bench_fixtures   # dirty-mem (unused here), the bench rootfs and the podman image (lib.sh)
mapfile -d '' CMD < <(workload_args counter)
log "work directory $WORK ($(fstype "$WORK") on $(fsdev "$WORK"))"

crp() { "$CRPOD" "$1" "${CR[@]}" "${@:2}"; }                 # crp COMMAND ARGS...
crp_pod() { "$CRPOD" pod "$1" "${CR[@]}" "${@:2}"; }         # crp_pod COMMAND ARGS...

# ------------------------------------------------------------ one sample per tool

sample_crpod() {   # sample_crpod ROUND
    local pod=$TAG-crpod-$1 file=$WORK/out/$TAG-crpod-$1.tar.zst m t_ckpt t_restore
    CRPOD_PODS+=("$pod" "$pod-r")
    crp_pod create --share "$SHARES" --network none --cgroup-parent "$CG_PARENT" "$pod" >/dev/null
    for m in "${MEMBERS[@]}"; do
        crp run --name "$pod-$m" --pod "$pod" --rootfs "$BENCH_ROOTFS" -- "${CMD[@]}" >/dev/null
    done
    for m in "${MEMBERS[@]}"; do wait_output "crpod container $pod-$m" '^0$' crp logs "$pod-$m"; done
    timed t_ckpt crp_pod checkpoint --export "$file" --compress zstd --print-stats "$pod"
    record frozen-crpod "$KEY" "$(jq -e .frozenDuration "$WORK/logs/last.out")"
    record criufrozen-crpod "$KEY" "$(jq '[.members[].criuStatistics.frozen_time // 0] | add' "$WORK/logs/last.out")"
    crp_pod rm -f "$pod" >/dev/null
    timed t_restore crp_pod restore --import "$file" --name "$pod-r"
    for m in "${MEMBERS[@]}"; do
        [ "$(crp inspect --format json "$pod-$m" | jq -r .state)" = running ] || die "crpod's restored $pod-$m is not running"
    done
    record_move crpod "$t_ckpt" 0 "$t_restore" "$(stat -c %s "$file")"
    crp_pod rm -f "$pod-r" >/dev/null
    rm -f "$file"
}

sample_podman() {   # sample_podman ROUND
    local pod=$TAG-podman-$1 m create new_id
    PODMAN_PODS+=("$pod" "$pod-r")
    podman pod create --name "$pod" --share "$SHARES" --network none >/dev/null
    for m in "${MEMBERS[@]}"; do
        PODMAN_CTRS+=("$pod-$m")
        podman run -d --pod "$pod" --name "$pod-$m" "$IMAGE" "${CMD[@]}" >/dev/null
    done
    for m in "${MEMBERS[@]}"; do wait_output "podman container $pod-$m" '^0$' podman logs "$pod-$m"; done
    podman_checkpoint "$pod"
    podman pod rm -f -t 0 "$pod" >/dev/null
    timed create podman pod create --name "$pod-r" --share "$SHARES" --network none
    record podcreate-podman "$KEY" "$create"
    read -r new_id < "$WORK/logs/last.out"   # podman's --pod takes only the id
    podman_restore "$pod" "$new_id"
    for m in "${MEMBERS[@]}"; do
        [ "$(podman inspect --format '{{.State.Running}}' "$pod-$m")" = true ] || die "podman's restored $pod-$m is not running"
    done
    record_move podman "$CKPT_SUM" "$create" "$RESTORE_SUM" "$ARCHIVE_BYTES"
    podman pod rm -f -t 0 "$pod-r" >/dev/null
    rm -f "$WORK/out/$pod"-m*.tar.zst
}

# podman_checkpoint POD: after sync and a quiet host, its members' checkpoints one after
# another, as a shell loop runs them (no fork between them); CKPT_SUM = the sum of their walls.
# A member stops somewhere inside its own checkpoint, so its stop points are at most "skew"
# (first start → last end) and at least "skewmin" (first end → last start) apart; "skewstarts"
# (first start → last start) when each stops at the same point of its checkpoint.
podman_checkpoint() {
    local m t t0 sum=0 frozen=0 first="" first_end="" last_start=""
    local -A stats=()
    sync
    wait_quiet
    for m in "${MEMBERS[@]}"; do
        t0=${EPOCHREALTIME/./}
        timed_now t podman container checkpoint --export "$WORK/out/$1-$m.tar.zst" --compress zstd --print-stats "$1-$m"
        : "${first:=$t0}" "${first_end:=$(( t0 + t ))}"
        last_start=$t0
        sum=$(( sum + t ))
        IFS= read -r -d '' "stats[$m]" < "$WORK/logs/last.out" || true   # parsed after the loop
    done
    for m in "${MEMBERS[@]}"; do
        frozen=$(( frozen + $(jq '.container_statistics[0].criu_statistics.frozen_time // 0' <<< "${stats[$m]}") ))
    done
    record skew-podman "$KEY" "$(( last_start + t - first ))"
    record skewmin-podman "$KEY" "$(( last_start - first_end ))"
    record skewstarts-podman "$KEY" "$(( last_start - first ))"
    record criufrozen-podman "$KEY" "$frozen"
    CKPT_SUM=$sum
}

# podman_restore POD POD_ID: each member's archive restored into the pod one after another (each
# keeps its name); RESTORE_SUM = the sum of their walls, ARCHIVE_BYTES = of their archives
podman_restore() {
    local m t
    RESTORE_SUM=0
    ARCHIVE_BYTES=0
    for m in "${MEMBERS[@]}"; do
        timed_now t podman container restore --import "$WORK/out/$1-$m.tar.zst" --pod "$2"
        RESTORE_SUM=$(( RESTORE_SUM + t ))
        ARCHIVE_BYTES=$(( ARCHIVE_BYTES + $(stat -c %s "$WORK/out/$1-$m.tar.zst") ))
    done
}

# record_move TOOL CKPT_US NEWPOD_US RESTORE_US ARCHIVE_BYTES: the walls and the downtime
record_move() {
    record "ckpt-$1" "$KEY" "$2"
    record "restore-$1" "$KEY" "$4"
    record "downtime-$1" "$KEY" "$(( $2 + $3 + $4 ))"
    record "size-$1" "$KEY" "$5"
}

# ------------------------------------------------------------ report

# cell OP TOOL: "median (min–max)" in ms (size: KiB), or – without samples
cell() {
    local f=$WORK/data/$1-$2.$KEY div=1000 lo mid hi
    [ -s "$f" ] || { echo "–"; return; }
    [ "$1" = size ] && div=1024
    read -r lo mid hi < <(stats "$f" "$div")
    echo "$mid ($lo–$hi)"
}

row() { echo "| $1 | $2 | $3 |"; }   # row LABEL CRPOD PODMAN

write_report() {
    echo "### Whole-pod move (issue 13), $DATE"
    echo
    report_host_line "; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- crpod $("$CRPOD" --version 2>&1 | head -n 1) ($CRPOD), $(first_line runc --version), CRIU $(criu --version 2>&1 | awk '/Version/ {print $2}'), $(first_line podman --version) (runtime $(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null))"
    echo "- $RUNS samples per tool, the tool order alternating; each sample a fresh pod (shares $SHARES, --network none) of ${#MEMBERS[@]} busybox counters, checkpointed with zstd, removed, restored as a new pod; wall-clock ms"
    report_quiet_line
    echo "- files under $WORK ($(fstype "$WORK") on $(fsdev "$WORK"))"
    echo
    echo "Median (min–max), ms:"
    echo
    row "measure" "crpod (\`pod checkpoint\` / \`pod restore\`)" "podman $(podman version --format '{{.Client.Version}}') (container by container)"
    echo "|---|---:|---:|"
    row "checkpoint, wall (podman: sum of ${#MEMBERS[@]})" "$(cell ckpt crpod)" "$(cell ckpt podman)"
    row "how far apart the members' stop points are, at most" "0 (one cut: one cgroup.freeze write)" "$(cell skew podman) (first checkpoint's start → last one's end)"
    row "… and at least" "0" "$(cell skewmin podman) (first checkpoint's end → last one's start)"
    row "… and if each member stops at the same point of its checkpoint" "0" "$(cell skewstarts podman) (first checkpoint's start → last one's start)"
    row "members frozen, cut → last member killed (\`frozenDuration\`)" "$(cell frozen crpod)" "–"
    row "CRIU frozen_time, summed over the members" "$(cell criufrozen crpod)" "$(cell criufrozen podman)"
    row "new pod (podman pod create; crpod: inside its restore)" "–" "$(cell podcreate podman)"
    row "restore, wall (podman: sum of ${#MEMBERS[@]})" "$(cell restore crpod)" "$(cell restore podman)"
    row "downtime = checkpoint + new pod + restore" "$(cell downtime crpod)" "$(cell downtime podman)"
    row "archive KiB (podman: ${#MEMBERS[@]} archives)" "$(cell size crpod)" "$(cell size podman)"
    write_details
}

# ------------------------------------------------------------ run

for r in $(seq 1 "$RUNS"); do
    order=(crpod podman)
    [ $(( r % 2 )) = 1 ] || order=(podman crpod)
    for t in "${order[@]}"; do
        log "round $r/$RUNS: $t"
        "sample_$t" "$r"
    done
done

write_report > "$WORK/report.md"
publish_report   # lib.sh
