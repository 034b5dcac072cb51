#!/usr/bin/env bash
#
# contrib/bench/restore-bench.sh - import + restore benchmark: crpod vs
# podman vs bare runc (+ decompression), for containers restored into a
# second pod.
#
# Usage (as root, after contrib/provision.sh, contrib/podman/setup-podman.sh
# and a release build of crpod):
#   contrib/bench/restore-bench.sh [RUNS]        (RUNS >= 5, default 5)
#
# Workloads (the same as checkpoint-bench.sh):
#   counter    busybox sh printing a counter every second
#   dirty-mem  contrib/bench/workloads/dirty-mem.c, 100 MiB of dirty,
#              semi-compressible memory (zstd -3 ratio about 3x)
#
# Fixtures, made once per workload outside any timing:
#   - crpod: the workload in crpod pod "src" (shares ipc,net,uts), checkpointed
#     with `crpod checkpoint --export A --compress zstd`; a second crpod pod
#     "dst" (same sharing) is the restore target.
#   - podman: the workload in podman pod "src" (--share ipc,net,uts),
#     checkpointed with `podman container checkpoint --export A --compress
#     zstd`; a second podman pod "dst" is the restore target.
#   - runc: one `crpod restore --keep` of the crpod archive into "dst"; its
#     runc container is then deleted (process and cgroup gone), which leaves
#     what crpod prepared for runc: the extracted, adjusted CRIU images
#     (<root>/work/restore-*/archive/checkpoint), the bundle with its
#     config.json, and the mounted overlay rootfs.
#
# Measured per workload, each RUNS times, interleaved (wall clock from bash's
# $EPOCHREALTIME; `sync` and an idle host before each timed command):
#   crpod         crpod restore --import A --pod dst --name rN --print-stats
#                 (rN is removed after the timing)
#   podman        podman container restore --import A --pod <dst pod id>
#                 --name rN --print-stats (podman 4.3.1 takes only the id;
#                 rN is removed after the timing)
#   runc          runc --root <run-root>/runc --log L --log-format json
#                 restore --detach --image-path I --work-path W --bundle B
#                 --pid-file P --manage-cgroups-mode soft ID: the runc call
#                 crpod makes, on the images and bundle crpod prepared
#                 (`runc delete -f` + cgroup removal after the timing)
#   zstd -dc|tar  zstd -dc A | tar -x -C <empty dir> of the crpod archive
#   runc+decomp   runc + zstd -dc|tar of the same run (sum)
#   inspect       crpod archive inspect A (diagnostic only: crpod's read,
#                 decompress and hash pass over the archive, nothing written)
# --print-stats changes nothing done (both tools always read CRIU's
# stats-restore); it gives the time spent inside `runc restore` and each
# tool's own total.
#
# Output: a markdown table (min/median/max ms, and the ratios of the medians
# crpod/(runc+decomp), target <= 1.15x, and podman/crpod, target >= 2.5x)
# printed and written to contrib/bench/results/restore-<date>.md.
#
# Everything the run creates (crpod pods and containers, podman pods and
# containers, runc state, the work directory, the bench cgroup parent) is
# removed on exit, also on failure or Ctrl-C.  Kept between runs as fixtures
# (shared with checkpoint-bench.sh): the rootfs $CRPOD_BENCH_ROOTFS (busybox
# + /usr/bin/dirty-mem) and the podman image localhost/crpod-bench:latest
# made from it; both are rebuilt only when the dirty-mem binary changes.
#
# Environment:
#   CRPOD               crpod binary (default <repo>/.build-release/release/crpod)
#   CRPOD_TEST_ROOTFS   busybox rootfs (default /var/lib/crpod-test/rootfs-busybox)
#   CRPOD_BENCH_ROOTFS  bench rootfs   (default /var/lib/crpod-test/rootfs-bench)
#   CRPOD_BENCH_TMP     parent of the work directory (default /var/tmp)
#   CRPOD_BENCH_MIB     dirty-mem size in MiB (default 100)
#   CRPOD_BENCH_OUT     result file (default contrib/bench/results/restore-<date>.md)
#   CRPOD_BENCH_QUIET_IDLE     before each timed command, wait until the host's
#                       CPUs were at least this % idle over 0.5 s (default 85;
#                       0 turns it off)
#   CRPOD_BENCH_QUIET_TIMEOUT  give up waiting after this many seconds and time
#                       anyway (default 120); such samples are counted in the report
#
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUNS=${1:-5}
source "$HERE/lib.sh"   # settings, log, timing, statistics, fixtures and cleanup shared with the other bench scripts
bench_settings
OUT=${CRPOD_BENCH_OUT:-$HERE/results/restore-$DATE.md}
die() { printf 'restore-bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }

check_runs   # --help, or RUNS a number >= 5 (lib.sh)
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$CRPOD" ] || die "no crpod at $CRPOD; build it: swift build -c release --scratch-path .build-release (or set CRPOD)"
[ -d "$SRC_ROOTFS/bin" ] || die "no busybox rootfs at $SRC_ROOTFS (run contrib/provision.sh)"
for tool in runc criu podman zstd tar gcc jq sync findmnt; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
[ -n "${EPOCHREALTIME:-}" ] || die "bash >= 5 needed (\$EPOCHREALTIME)"

# ------------------------------------------------------------ state + cleanup

TAG=crpod-rbench-$$
WORK=""
CG_PARENT=/$TAG
CRPOD_PODS=()
CRPOD_CTRS=()
PODMAN_PODS=()
PODMAN_CTRS=()

cleanup_tools() {   # called by on_exit (lib.sh)
    local c
    cleanup_runc_root "$WORK/run/runc"   # runc containers first (the bare runc restores use crpod's ids)
    for c in "${CRPOD_CTRS[@]}"; do "$CRPOD" rm -f "${CR[@]}" "$c" >/dev/null 2>&1; done
    cleanup_crpod_pods
}
install_traps restore-bench.sh
make_work out data logs runc-work

# ------------------------------------------------------------ fixtures (as checkpoint-bench.sh)

bench_fixtures   # dirty-mem, the bench rootfs and the podman image (lib.sh)

# ------------------------------------------------------------ helpers (as checkpoint-bench.sh)

# decompress ARCHIVE DIR: what a restore has to do with the archive at least
decompress() { zstd -q -dc "$1" | tar -x -C "$2"; }

# ------------------------------------------------------------ pods

log "work directory $WORK ($(fstype "$WORK") on $(fsdev "$WORK"))"
src_dst_pods   # lib.sh
PODMAN_STORAGE=$(podman info --format '{{.Store.GraphRoot}}')

# ------------------------------------------------------------ per-workload fixtures

declare -A CRPOD_ARCHIVE PODMAN_ARCHIVE RUNC_ID RUNC_IMAGES RUNC_BUNDLE

prepare() {   # prepare WORKLOAD: both archives and crpod's prepared runc restore
    local w=$1 name id before after
    local -a cmd
    mapfile -d '' cmd < <(workload_args "$w")

    log "$w: crpod checkpoint --export (fixture)"
    name=$TAG-src-$w
    CRPOD_CTRS+=("$name")
    "$CRPOD" run "${CR[@]}" --name "$name" --pod "$CRPOD_SRC" --rootfs "$BENCH_ROOTFS" -- "${cmd[@]}" >/dev/null
    wait_output "crpod container $name" . "$CRPOD" logs "${CR[@]}" "$name"
    CRPOD_ARCHIVE[$w]=$WORK/out/crpod-$w.tar.zst
    "$CRPOD" checkpoint "${CR[@]}" --export "${CRPOD_ARCHIVE[$w]}" --compress zstd "$name" >/dev/null

    log "$w: podman container checkpoint --export (fixture)"
    PODMAN_CTRS+=("$name")
    podman run -d --pod "$PODMAN_SRC" --name "$name" "$IMAGE" "${cmd[@]}" >/dev/null
    wait_output "podman container $name" . podman logs "$name"
    PODMAN_ARCHIVE[$w]=$WORK/out/podman-$w.tar.zst
    podman container checkpoint --export "${PODMAN_ARCHIVE[$w]}" --compress zstd "$name" >/dev/null

    log "$w: crpod restore --keep (fixture for bare runc)"
    name=$TAG-runc-$w
    CRPOD_CTRS+=("$name")
    before=$(ls "$WORK/root/work" 2>/dev/null || true)
    "$CRPOD" restore "${CR[@]}" --import "${CRPOD_ARCHIVE[$w]}" --pod "$CRPOD_DST" --name "$name" --keep >/dev/null
    after=$(ls "$WORK/root/work")
    id=$("$CRPOD" inspect "${CR[@]}" "$name" | awk '$1 == "ID:" {print $2}')
    [ -n "$id" ] || die "no id for $name"
    RUNC_ID[$w]=$id
    RUNC_BUNDLE[$w]=$WORK/root/containers/$id/bundle
    RUNC_IMAGES[$w]=$WORK/root/work/$(comm -13 <(echo "$before") <(echo "$after") | head -n 1)/archive/checkpoint
    [ -f "${RUNC_IMAGES[$w]}/pstree.img" ] || die "no kept images for $name (${RUNC_IMAGES[$w]})"
    [ -f "${RUNC_BUNDLE[$w]}/config.json" ] || die "no bundle for $name"
    # keep the bundle, images and mounted overlay; drop the process and cgroup
    runc_delete "$w"
}

runc_delete() {   # runc_delete WORKLOAD: remove the bare runc container's state and cgroup
    local id=${RUNC_ID[$1]} cg d
    runc --root "$WORK/run/runc" delete -f "$id" >/dev/null 2>&1 || true
    cg=$(jq -r '.linux.cgroupsPath' "${RUNC_BUNDLE[$1]}/config.json")
    for d in /sys/fs/cgroup/*"$cg" /sys/fs/cgroup"$cg"; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
    done
    [ ! -e "$WORK/run/runc/$id" ] || die "runc state of $id remains"
}

# ------------------------------------------------------------ one run of each tool

bench_crpod() {   # bench_crpod WORKLOAD RUN
    local w=$1 name=$TAG-r$2-$1 t
    CRPOD_CTRS+=("$name")
    timed t "$CRPOD" restore "${CR[@]}" --import "${CRPOD_ARCHIVE[$w]}" --pod "$CRPOD_DST" --name "$name" --print-stats
    record crpod "$w" "$t"
    record crpod-runc-part "$w" "$(jq '.container_statistics[0].runtime_restore_duration' "$WORK/logs/last.out")"
    record crpod-total "$w" "$(jq '.podman_restore_duration' "$WORK/logs/last.out")"
    record crpod-outside-runc "$w" "$(jq '.podman_restore_duration - .container_statistics[0].runtime_restore_duration' "$WORK/logs/last.out")"
    "$CRPOD" rm -f "${CR[@]}" "$name" >/dev/null
}

bench_podman() {   # bench_podman WORKLOAD RUN
    local w=$1 name=$TAG-r$2-$1 t
    PODMAN_CTRS+=("$name")
    timed t podman container restore --import "${PODMAN_ARCHIVE[$w]}" --pod "$PODMAN_DST_ID" --name "$name" --print-stats
    record podman "$w" "$t"
    record podman-runc-part "$w" "$(jq '.container_statistics[0].runtime_restore_duration' "$WORK/logs/last.out")"
    podman rm -f -t 0 "$name" >/dev/null
}

bench_runc() {   # bench_runc WORKLOAD RUN: bare runc restore, then zstd -dc | tar -x
    local w=$1 i=$2 t tz id=${RUNC_ID[$1]} wrk=$WORK/runc-work/$1-$2 x=$WORK/out/extract-$1-$2
    mkdir -p "$wrk" "$x"
    timed t runc --root "$WORK/run/runc" --log "$wrk/runtime.log" --log-format json \
        restore --detach --image-path "${RUNC_IMAGES[$w]}" --work-path "$wrk" \
        --bundle "${RUNC_BUNDLE[$w]}" --pid-file "$wrk/pid" --manage-cgroups-mode soft "$id"
    record runc "$w" "$t"
    kill -0 "$(cat "$wrk/pid")" || die "bare runc restore of $w: process not running"
    runc_delete "$w"
    timed tz decompress "${CRPOD_ARCHIVE[$w]}" "$x"
    record decomp "$w" "$tz"
    record runc+decomp "$w" "$(( t + tz ))"
    rm -rf "$wrk" "$x"
    # diagnostic: crpod's archive pass without writing (decompress + hash + validate)
    timed t "$CRPOD" archive inspect "${CRPOD_ARCHIVE[$w]}"
    record inspect "$w" "$t"
}

# ------------------------------------------------------------ run

WORKLOADS=(counter dirty-mem)
for w in "${WORKLOADS[@]}"; do prepare "$w"; done
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

mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f", b / 1048576 }'; }

{
    echo "### Import + restore into another pod: crpod vs podman vs runc ($DATE)"
    echo
    report_host_line
    echo "- crpod $("$CRPOD" --version 2>&1 | head -n 1) ($CRPOD), $(first_line runc --version), CRIU $(criu --version 2>&1 | awk '/Version/ {print $2}'), $(first_line podman --version), $(first_line zstd --version | sed 's/^\*\*\* //; s/, by.*//')"
    echo "- $RUNS runs per tool and workload, interleaved; wall-clock ms of the restore command only (the restored container is removed after each run, untimed); target pods share ipc,net,uts"
    report_quiet_line
    echo "- files: crpod root/run-root, archives and extractions under $TMP_PARENT/$TAG.* ($(fstype "$WORK") on $(fsdev "$WORK")); podman's storage under $PODMAN_STORAGE ($(fstype "$PODMAN_STORAGE") on $(fsdev "$PODMAN_STORAGE"))"
    echo "- archives (zstd): $(for w in "${WORKLOADS[@]}"; do printf '%s crpod %s MiB, podman %s MiB; ' "$(wl_label "$w")" "$(mib "${CRPOD_ARCHIVE[$w]}")" "$(mib "${PODMAN_ARCHIVE[$w]}")"; done | sed 's/; $//')"
    echo
    echo "| workload | tool | min ms | median ms | max ms |"
    echo "|---|---|---:|---:|---:|"
    for w in "${WORKLOADS[@]}"; do
        label=$(wl_label "$w")
        read -r a b c < <(stats "$WORK/data/crpod.$w" 1000)
        echo "| $label | crpod \`restore --import --pod --name\` | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/crpod-total.$w" 1000)
        echo "| $label | &nbsp;&nbsp;crpod's own total (print-stats \`podman_restore_duration\`) | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/crpod-runc-part.$w" 1000)
        echo "| $label | &nbsp;&nbsp;of which inside \`runc restore\` (print-stats) | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/crpod-outside-runc.$w" 1000)
        echo "| $label | &nbsp;&nbsp;of which outside it (total − runc, per run) | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/podman.$w" 1000)
        echo "| $label | podman \`container restore --import --pod --name\` | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/podman-runc-part.$w" 1000)
        echo "| $label | &nbsp;&nbsp;of which inside \`runc restore\` (print-stats) | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/runc.$w" 1000)
        echo "| $label | \`runc restore\` alone (crpod's images + bundle) | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/decomp.$w" 1000)
        echo "| $label | \`zstd -dc \| tar -x\` of the crpod archive | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/runc+decomp.$w" 1000)
        echo "| $label | runc restore + decompression (sum) | $a | $b | $c |"
        read -r a b c < <(stats "$WORK/data/inspect.$w" 1000)
        echo "| $label | (diagnostic) \`crpod archive inspect\`: decompress + hash, nothing written | $a | $b | $c |"
    done
    echo
    echo "Ratios of the medians (targets: crpod/(runc+decompression) ≤ 1.15×; podman/crpod ≥ 2.5×):"
    echo
    echo "| workload | crpod / (runc+decomp) | podman / crpod | crpod / runc alone |"
    echo "|---|---:|---:|---:|"
    for w in "${WORKLOADS[@]}"; do
        c=$(median "$WORK/data/crpod.$w"); p=$(median "$WORK/data/podman.$w")
        rd=$(median "$WORK/data/runc+decomp.$w"); r=$(median "$WORK/data/runc.$w")
        crd=$(ratio "$c" "$rd"); pc=$(ratio "$p" "$c")
        echo "| $(wl_label "$w") | ${crd}× ($(verdict "$crd" '<=' 1.15)) | ${pc}× ($(verdict "$pc" '>=' 2.5)) | $(ratio "$c" "$r")× |"
    done
    echo
    echo "Raw samples (ms):"
    echo
    for w in "${WORKLOADS[@]}"; do
        for t in crpod crpod-runc-part podman podman-runc-part runc decomp inspect; do
            echo "- $w $t: $(awk '{ printf "%s%.1f", (NR > 1 ? " " : ""), $1 / 1000 }' "$WORK/data/$t.$w")"
        done
    done
} > "$WORK/report.md"

publish_report   # lib.sh
