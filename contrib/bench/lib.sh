#!/usr/bin/env bash
# contrib/bench/lib.sh - helpers shared by the bench scripts (sourced,
# not run): logging, timing, waiting for a quiet host, statistics and table labels.
# They read the caller's globals at call time (WORK, ...).
# Used by checkpoint-bench.sh, restore-bench.sh, cr-bench.sh, pod-bench.sh, daemon-bench.sh and footprint.sh.

log() { printf '==> %s\n' "$*" >&2; }

# bench_settings: the settings every bench script shares (environment → defaults), from REPO
bench_settings() {
    CRPOD=${CRPOD:-$REPO/.build-release/release/crpod}
    SRC_ROOTFS=${CRPOD_TEST_ROOTFS:-/var/lib/crpod-test/rootfs-busybox}
    BENCH_ROOTFS=${CRPOD_BENCH_ROOTFS:-/var/lib/crpod-test/rootfs-bench}
    TMP_PARENT=${CRPOD_BENCH_TMP:-/var/tmp}
    MIB=${CRPOD_BENCH_MIB:-100}
    IMAGE=localhost/crpod-bench:latest
    STAMP_LABEL=crpod.bench.dirty-mem-sha256
    DATE=$(date -u +%Y-%m-%d)
    COUNTER_CMD='i=0; while true; do echo $i; i=$((i+1)); sleep 1; done'
    READY_TIMEOUT=60   # seconds a workload may take to print its first line
    QUIET_IDLE=${CRPOD_BENCH_QUIET_IDLE:-85}        # % idle wanted before each timed command (0: off)
    QUIET_TIMEOUT=${CRPOD_BENCH_QUIET_TIMEOUT:-120}  # seconds to wait for it, then time anyway
    NOISY=0   # samples timed on a busy host after QUIET_TIMEOUT (wait_quiet)
    export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
    export LC_ALL=C
}

fstype() { findmnt -n -o FSTYPE --target "$1"; }

fsdev() { findmnt -n -o SOURCE --target "$1"; }

# now_us: microseconds since the epoch, without forking
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# record TOOL WORKLOAD VALUE: append a measurement (ms, or bytes for sizes)
record() { echo "$3" >> "$WORK/data/$1.$2"; }

# cpu_idle_pct: % of CPU time idle (idle + iowait) over the next 0.5 s
cpu_idle_pct() {
    local a b
    read -r -a a < /proc/stat
    sleep 0.5
    read -r -a b < /proc/stat
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
    local idle=$(( b[4] - a[4] + b[5] - a[5] ))
    [ "$total" -gt 0 ] || { echo 100; return; }
    echo $(( 100 * idle / total ))
}

wait_quiet() {
    [ "$QUIET_IDLE" -gt 0 ] || return 0
    local deadline=$(( $(now_us) + QUIET_TIMEOUT * 1000000 )) warned=""
    while [ "$(cpu_idle_pct)" -lt "$QUIET_IDLE" ]; do
        if [ "$(now_us)" -ge "$deadline" ]; then
            NOISY=$(( NOISY + 1 ))
            log "host still busy after ${QUIET_TIMEOUT}s; timing anyway"
            return 0
        fi
        [ -n "$warned" ] || { log "waiting for the host to be >= ${QUIET_IDLE}% idle"; warned=1; }
    done
}

workload_args() {   # workload_args WORKLOAD -> the command line inside the container
    case $1 in
        counter) printf '%s\0' sh -c "$COUNTER_CMD" ;;
        dirty-mem) printf '%s\0' /usr/bin/dirty-mem "$MIB" ;;
    esac
}

# stats FILE [DIV]: "min median max" of the numbers in FILE, divided by DIV
stats() {
    sort -n "$1" | awk -v d="${2:-1}" '{ v[NR] = $1 / d }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.1f %.1f %.1f\n", v[1], m, v[NR] }'
}

median() { stats "$1" "${2:-1}" | awk '{print $2}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

verdict() {   # verdict VALUE OP TARGET
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? v >= t : v <= t; print ok ? "met" : "**missed**" }'
}

wl_label() {
    case $1 in
        counter) echo "busybox counter" ;;
        dirty-mem) echo "dirty-mem ${MIB} MiB" ;;
    esac
}

# report_host_line, report_quiet_line: the "- host: ..." and idle-host lines of a result file
report_host_line() {
    echo "- host: $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM${1:-}"
}

report_quiet_line() {
    if [ "$QUIET_IDLE" -gt 0 ]; then
        echo "- each timed command started after \`sync\` once the CPUs were ≥ ${QUIET_IDLE}% idle over 0.5 s; samples timed on a busy host after waiting ${QUIET_TIMEOUT}s: $NOISY"
    else
        echo "- no waiting for an idle host (CRPOD_BENCH_QUIET_IDLE=0)"
    fi
}

first_line() { "$@" 2>&1 | head -n 1; }

# usage_from_header SCRIPT: print SCRIPT's header comment (its --help)
usage_from_header() { sed -n '2,/^set -/{/^set -/d;s/^# \{0,1\}//;p}' "$1"; }

# require_host HINT TOOL...: root, an executable $CRPOD (else die, HINT saying how to build
# it) and each TOOL on PATH. Uses the caller's CRPOD and die().
require_host() {
    local hint=$1 tool; shift
    [ "$(id -u)" = 0 ] || die "must run as root"
    [ -x "$CRPOD" ] || die "no crpod at $CRPOD; build it: $hint (or set CRPOD)"
    for tool in "$@"; do command -v "$tool" >/dev/null || die "$tool not found on PATH"; done
}

# require_numbers VAR...: each named variable a non-negative integer (else the caller's die())
require_numbers() {
    local v
    for v in "$@"; do
        case ${!v} in ''|*[!0-9]*) die "$v must be a non-negative integer (got '${!v}')" ;; esac
    done
}

# require_fixture_host: the busybox rootfs the fixtures are made from, and bash >= 5
require_fixture_host() {
    [ -d "$SRC_ROOTFS/bin" ] || die "no busybox rootfs at $SRC_ROOTFS (run contrib/provision.sh)"
    [ -n "${EPOCHREALTIME:-}" ] || die "bash >= 5 needed (\$EPOCHREALTIME)"
}

# ensure_podman: install podman with contrib/podman/setup-podman.sh when it is missing
ensure_podman() {
    command -v podman >/dev/null && return 0
    log "podman missing: running contrib/podman/setup-podman.sh"
    "$REPO/contrib/podman/setup-podman.sh" >&2
}

# check_runs: --help prints the calling script's header and exits; else RUNS must be a number
# >= 5. Uses the caller's RUNS and die().
check_runs() {
    case $RUNS in
        -h|--help) usage_from_header "$0"; exit 0 ;;
        ''|*[!0-9]*) die "RUNS must be a number (got '$RUNS')" ;;
    esac
    [ "$RUNS" -ge 5 ] || die "RUNS must be at least 5 (got $RUNS)"
}

# timed VAR COMMAND...: sync, wait for a quiet host, run COMMAND (stdout to $WORK/logs/last.out,
# stderr appended to $ERRLOG), put its wall time in us in VAR. A failure prints the end of
# $ERRLOG and dies (the caller's die()); try_timed returns 1 instead.
timed() { try_timed "$@" || die "timed command failed: ${*:2}"; }

try_timed() {
    sync
    wait_quiet
    try_timed_now "$@"
}

# timed_now / try_timed_now VAR COMMAND...: as timed / try_timed, without the sync and the wait
# for a quiet host (for commands that must follow each other as a user's loop would run them)
timed_now() { try_timed_now "$@" || die "timed command failed: ${*:2}"; }

try_timed_now() {
    local __var=$1; shift
    local t0 t1
    t0=$(now_us)
    if ! "$@" > "$WORK/logs/last.out" 2>>"$ERRLOG"; then
        tail -n 30 "$ERRLOG" >&2
        return 1
    fi
    t1=$(now_us)
    printf -v "$__var" '%s' "$(( t1 - t0 ))"
}

# wait_output DESCRIPTION PATTERN COMMAND...: until COMMAND prints a line matching PATTERN
# (READY_TIMEOUT seconds at most)
wait_output() {
    local what=$1 pattern=$2; shift 2
    local deadline=$(( $(now_us) + READY_TIMEOUT * 1000000 ))
    while [ "$(now_us)" -lt "$deadline" ]; do
        if "$@" 2>/dev/null | grep -q -- "$pattern"; then return 0; fi
        sleep 0.1
    done
    die "$what did not print a line matching '$pattern' within ${READY_TIMEOUT}s; its output: $("$@" 2>&1 | tail -n 3)"
}

ready_pattern() {   # ready_pattern WORKLOAD -> the first line the workload prints
    case $1 in
        counter) echo '^0$' ;;
        dirty-mem) echo '^ready' ;;
    esac
}

# bench_fixtures: build dirty-mem (static) into $WORK, make $BENCH_ROOTFS (a copy of
# $SRC_ROOTFS + /usr/bin/dirty-mem) and the podman image $IMAGE from it when missing or made
# from another dirty-mem binary (stamp file / image label $STAMP_LABEL). Without podman on
# PATH the image is skipped.
bench_fixtures() {
    local sha
    log "building dirty-mem (static)"
    gcc -O2 -static -o "$WORK/dirty-mem" "$HERE/workloads/dirty-mem.c"
    sha=$(sha256sum "$WORK/dirty-mem" | cut -c1-64)
    if [ "$(cat "$BENCH_ROOTFS/.crpod-bench-stamp" 2>/dev/null)" != "$sha" ]; then
        log "making $BENCH_ROOTFS (busybox + /usr/bin/dirty-mem)"
        rm -rf "$BENCH_ROOTFS"
        cp -a "$SRC_ROOTFS" "$BENCH_ROOTFS"
        install -m 0755 "$WORK/dirty-mem" "$BENCH_ROOTFS/usr/bin/dirty-mem"
        echo "$sha" > "$BENCH_ROOTFS/.crpod-bench-stamp"
    fi
    command -v podman >/dev/null || return 0
    if [ "$(podman image inspect --format "{{index .Labels \"$STAMP_LABEL\"}}" "$IMAGE" 2>/dev/null)" != "$sha" ]; then
        log "importing $BENCH_ROOTFS as $IMAGE"
        tar -C "$BENCH_ROOTFS" -c . | podman import -q --change "LABEL $STAMP_LABEL=$sha" - "$IMAGE" >/dev/null
    fi
}

# write_details: the per-cell table of a result file (min/median/max and the raw samples in
# the order taken) from $WORK/data/<op>-<tool>.<key> (µs, or bytes when op is size)
write_details() {
    local f base op tool key
    echo
    echo "Per cell (ms; size: MiB), and the raw samples in the order taken:"
    echo
    echo "| op | tool | workload-variant | n | min | median | max | samples |"
    echo "|---|---|---|---:|---:|---:|---:|---|"
    for f in "$WORK"/data/*; do
        base=${f##*/}; op=${base%%-*}; tool=${base#*-}; tool=${tool%%.*}; key=${base#*.}
        local div=1000; [ "$op" = size ] && div=1048576
        read -r a b c < <(stats "$f" "$div")
        echo "| $op | $tool | $key | $(wc -l < "$f") | $a | $b | $c | $(awk -v d="$div" '{ printf "%s%.1f", (NR > 1 ? " " : ""), $1 / d }' "$f") |"
    done
}

# publish_report: $WORK/report.md copied to $OUT and printed
publish_report() {
    mkdir -p "$(dirname "$OUT")"
    cp "$WORK/report.md" "$OUT"
    cat "$WORK/report.md"
    log "written to $OUT"
}

# criu_stat FILE FIELD: one counter of a CRIU stats-dump or stats-restore image (times in µs),
# or nothing when FILE is missing or does not hold FIELD. The image is: service magic, stats
# magic, a 4-byte little-endian length, one protobuf stats_entry (images/stats.proto: dump = 1,
# restore = 2, each a message of varint counters).
criu_stat() {
    [ -f "$1" ] || return 0
    python3 - "$1" "$2" <<'PY'
import struct, sys
DUMP = {"freezing_time": 1, "frozen_time": 2, "memdump_time": 3, "memwrite_time": 4,
        "pages_scanned": 5, "pages_written": 7}
RESTORE = {"pages_compared": 1, "forking_time": 3, "restore_time": 4, "pages_restored": 5}
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        kind = key & 7
        if kind == 0:
            v, i = varint(b, i)
        elif kind == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        elif kind == 5:
            v = b[i:i + 4]; i += 4
        elif kind == 1:
            v = b[i:i + 8]; i += 8
        else:
            return
        yield key >> 3, v
data = open(sys.argv[1], "rb").read()
(size,) = struct.unpack_from("<I", data, 8)
name = sys.argv[2]
for number, sub in fields(data[12:12 + size]):
    table = DUMP if number == 1 else RESTORE if number == 2 else {}
    if name in table:
        for field, value in fields(sub):
            if field == table[name]:
                print(value)
PY
}

# ------------------------------------------------------------ work directory, traps, cleanup
# The scripts keep what they made in WORK, TAG (prefix of every name), CG_PARENT (cgroup parent
# of their pods), CRPOD_PODS, PODMAN_PODS, PODMAN_CTRS, and define cleanup_tools(): what only
# they know how to remove from WORK (crpod containers, runc state, ...). on_exit runs it
# between the podman and the work-directory cleanup; every step ignores errors.

# make_work SUBDIR...: WORK = a new directory under TMP_PARENT with SUBDIRs; CR = crpod's
# --root/--run-root in it; ERRLOG = where timed commands' stderr goes
make_work() {
    local d
    mkdir -p "$TMP_PARENT"
    WORK=$(mktemp -d "$TMP_PARENT/$TAG.XXXXXX")
    for d in "$@"; do mkdir -p "$WORK/$d"; done
    CR=(--root "$WORK/root" --run-root "$WORK/run")
    ERRLOG=$WORK/logs/stderr.log
}

on_exit() {
    local rc=$?
    set +e
    trap - ERR
    log "cleaning up"
    cleanup_podman
    [ -z "$WORK" ] || cleanup_tools
    cleanup_work
    exit "$rc"
}

# install_traps SCRIPT: on_exit on exit, exit 130 on SIGINT/SIGTERM, the failing line on error
install_traps() {
    trap on_exit EXIT
    trap 'exit 130' INT TERM
    # shellcheck disable=SC2064
    trap "printf '$1: ERROR: command failed (exit %s) at line %s: %s\n' \"\$?\" \"\$LINENO\" \"\$BASH_COMMAND\" >&2" ERR
}

cleanup_podman() {
    local c p
    for c in "${PODMAN_CTRS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
    for p in "${PODMAN_PODS[@]}"; do podman pod rm -f -t 0 "$p" >/dev/null 2>&1; done
}

cleanup_runc_root() {   # cleanup_runc_root DIR: runc delete -f every container of that runc root
    local d
    [ -d "$1" ] || return 0
    for d in "$1"/*; do
        [ -d "$d" ] && runc --root "$1" delete -f "${d##*/}" >/dev/null 2>&1
    done
}

cleanup_crpod_pods() {
    local p
    for p in "${CRPOD_PODS[@]}"; do "$CRPOD" pod rm -f "${CR[@]}" "$p" >/dev/null 2>&1; done
}

# src_dst_pods [CRPOD-POD-CREATE-ARGS...]: crpod pods TAG-src and TAG-dst (CRPOD_SRC,
# CRPOD_DST) sharing ipc,net,uts under CG_PARENT; podman pods of the same names (PODMAN_SRC,
# PODMAN_DST, PODMAN_DST_ID) unless NO_PODMAN is set
src_dst_pods() {
    local p
    CRPOD_SRC=$TAG-src
    CRPOD_DST=$TAG-dst
    for p in "$CRPOD_SRC" "$CRPOD_DST"; do
        CRPOD_PODS+=("$p")
        "$CRPOD" pod create "${CR[@]}" --share ipc,net,uts --cgroup-parent "$CG_PARENT" "$@" "$p" >/dev/null
    done
    [ -z "${NO_PODMAN:-}" ] || return 0
    PODMAN_SRC=$TAG-src
    PODMAN_DST=$TAG-dst
    for p in "$PODMAN_SRC" "$PODMAN_DST"; do
        PODMAN_PODS+=("$p")
        podman pod create --name "$p" --share ipc,net,uts >/dev/null
    done
    PODMAN_DST_ID=$(podman pod inspect --format '{{.ID}}' "$PODMAN_DST")
}

# cleanup_work: unmount what is still mounted under WORK (crpod's overlays), remove WORK and
# the cgroup parent, then warn about anything named TAG* podman still lists, or cgroups left
cleanup_work() {
    local d
    if [ -n "$WORK" ]; then
        awk -v w="$WORK" '$2 ~ "^" w {print $2}' /proc/self/mounts | sort -r | while read -r d; do
            umount -l "$d" 2>/dev/null
        done
        rm -rf "$WORK"
    fi
    for d in /sys/fs/cgroup"$CG_PARENT" /sys/fs/cgroup/*"$CG_PARENT"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    if command -v podman >/dev/null; then
        podman ps -a --format '{{.Names}}' 2>/dev/null | grep -q "^$TAG" && log "WARNING: podman containers named $TAG* remain"
        podman pod ls --format '{{.Name}}' 2>/dev/null | grep -q "^$TAG" && log "WARNING: podman pods named $TAG* remain"
    fi
    if ls -d /sys/fs/cgroup"$CG_PARENT" /sys/fs/cgroup/*"$CG_PARENT" >/dev/null 2>&1; then
        log "WARNING: cgroups $CG_PARENT remain"
    fi
    return 0
}
