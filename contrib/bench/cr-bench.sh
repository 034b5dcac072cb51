#!/usr/bin/env bash
#
# contrib/bench/cr-bench.sh - checkpoint/restore side by side (issue 12): podman 4.3.1,
# runc alone, bare CRIU and crpod (one column per crpod engine), round-robin in one run,
# for a container moved from one pod to another.
#
# Usage (as root, after contrib/provision.sh and a release build of crpod,
# `swift build -c release --scratch-path .build-release`):
#   contrib/bench/cr-bench.sh [--runs N] [--crpod-engines LIST] [--tools LIST] [--out FILE]
#
#   --runs N              samples per tool and operation (default 5; env CRPOD_BENCH_RUNS)
#   --crpod-engines LIST  comma-separated crpod engines, each passed as `--engine E`
#                         (default runc,native; env CRPOD_BENCH_ENGINES). A crpod without the
#                         --engine option is run as it is, for the list `runc` only.
#   --tools LIST          which of podman,runc,criu,crpod to run (default all)
#   --out FILE            result file (default contrib/bench/results/cr-<date>.md)
# Podman is installed with contrib/podman/setup-podman.sh when it is missing.
#
# Workloads: counter (busybox sh printing a counter every second) and dirty-mem
# (contrib/bench/workloads/dirty-mem.c: 100 MiB of dirty, semi-compressible memory).
# Pods: two per tool family ("src" and "dst"), sharing ipc,net,uts (podman's default);
# the crpod pods (also used by runc and bare CRIU) all have the hostname crbench.
#
# One sample = a fresh container in src, its checkpoint (timed), then its restore into dst
# (timed), then both are removed. Per round every tool runs once per workload and variant;
# the order of the tools rotates from round to round so that host drift hits all alike.
#   podman   podman container checkpoint --export F --compress C --print-stats, then
#            podman container restore --import F --pod <dst id> --name N --print-stats
#   crpod-E  crpod checkpoint --export F --compress C --print-stats (engine E), then
#            crpod restore --import F --pod dst --name N --print-stats
#   runc     runc checkpoint --manage-cgroups-mode soft of a crpod-started (runc engine)
#            container's runc state, then runc restore --detach of those images with a copy of
#            its bundle pointed at dst (namespace paths of dst's infra, a new cgroup under dst,
#            the CRIU config file's cgroup-root likewise); no archive
#   criu     criu dump -t <init> --root <overlay> --manage-cgroups=soft --network-lock skip
#            --external net[<ino>]:extRootNetNS -v4 of a crpod-started container, then
#            criu restore --restore-detached --root <the same overlay> --inherit-fd
#            fd[3]:extRootNetNS (dst's netns) --join-ns ipc/uts (dst's) --inherit-fd
#            fd[1]:pipe:[..] (stdout) --cgroup-root per hierarchy (a new cgroup under dst);
#            no archive
# C is zstd for the counter, zstd and none for dirty-mem; runc and criu have no archive
# ("raw" images). Frozen time: CRIU's stats-dump (frozen_time) of every checkpoint, from
# --print-stats for podman and crpod, from the stats-dump file for runc and criu. Before
# every timed command: sync, then wait for an idle host as lib.sh's wait_quiet does.
# Every restored process is checked to be alive before it is removed. A crpod engine that
# fails a sample is reported with crpod's error and skipped from then on; any other tool
# failing ends the run.
#
# Output: the side-by-side medians, the ratios against issue 12's targets, per-cell
# min/median/max and the raw samples, printed and written to the result file. The pre-copy
# target is probed (criu check --feature mem_dirty_track) and reported, never faked.
# Everything created is removed on exit, also on failure or Ctrl-C; the bench rootfs and the
# podman image localhost/crpod-bench:latest are kept as fixtures (as the other bench scripts).
#
# Environment: CRPOD, CRPOD_TEST_ROOTFS, CRPOD_BENCH_ROOTFS, CRPOD_BENCH_TMP, CRPOD_BENCH_MIB,
# CRPOD_BENCH_QUIET_IDLE (default 85), CRPOD_BENCH_QUIET_TIMEOUT (default 120): as in
# checkpoint-bench.sh.
#
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUNS=${CRPOD_BENCH_RUNS:-5}
ENGINES=${CRPOD_BENCH_ENGINES:-runc,native}
TOOLS_ARG=podman,runc,criu,crpod
OUT=""
source "$HERE/lib.sh"        # settings, log, timing, statistics, fixtures, cleanup, criu_stat
bench_settings
source "$HERE/cr-tools.sh"   # one sample of each tool, crpod engine selection, cgroups
source "$HERE/cr-report.sh"  # the result file
die() { printf 'cr-bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage_from_header "$0"; exit 0 ;;
        --runs) RUNS=${2:-}; shift 2 || die "--runs needs a value" ;;
        --runs=*) RUNS=${1#*=}; shift ;;
        --crpod-engines) ENGINES=${2:-}; shift 2 || die "--crpod-engines needs a value" ;;
        --crpod-engines=*) ENGINES=${1#*=}; shift ;;
        --tools) TOOLS_ARG=${2:-}; shift 2 || die "--tools needs a value" ;;
        --tools=*) TOOLS_ARG=${1#*=}; shift ;;
        --out) OUT=${2:-}; shift 2 || die "--out needs a value" ;;
        --out=*) OUT=${1#*=}; shift ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
OUT=${OUT:-$HERE/results/cr-$DATE.md}
require_numbers RUNS MIB QUIET_IDLE QUIET_TIMEOUT
[ "$RUNS" -ge 1 ] || die "--runs must be at least 1"
[ "$MIB" -gt 0 ] || die "CRPOD_BENCH_MIB must be positive"
IFS=, read -r -a ENGINE_LIST <<< "$ENGINES"
IFS=, read -r -a TOOL_FAMILIES <<< "$TOOLS_ARG"
for f in "${TOOL_FAMILIES[@]}"; do
    case $f in podman|runc|criu|crpod) ;; *) die "unknown tool '$f' (podman, runc, criu, crpod)" ;; esac
done
for e in "${ENGINE_LIST[@]}"; do
    case $e in ''|*[!a-z0-9_-]*) die "bad engine name '$e'" ;; esac
done
[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$CRPOD" ] || die "no crpod at $CRPOD; build it: swift build -c release --scratch-path .build-release (or set CRPOD)"
require_fixture_host
for tool in runc criu zstd tar gcc jq sync findmnt python3 stat; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
if has_family podman; then ensure_podman; fi

# ------------------------------------------------------------ state + cleanup

TAG=crpod-crb-$$
WORK=""
CG_PARENT=/$TAG
CRPOD_PODS=()
CRPOD_CTRS=()      # "ENGINE NAME"
PODMAN_PODS=()
PODMAN_CTRS=()
RESTORED_CGROUPS=()   # cgroups of bare runc/CRIU restores (killed and removed at the end)

cleanup_tools() {   # called by on_exit (lib.sh)
    local c
    cleanup_runc_root "$WORK/runc-restored"
    for c in "${RESTORED_CGROUPS[@]}"; do cgroup_kill_remove "$c"; done
    for c in "${CRPOD_CTRS[@]}"; do crp "${c%% *}" rm -f "${c#* }" >/dev/null 2>&1; done
    cleanup_crpod_pods
}
install_traps cr-bench.sh
make_work out data logs runc-restored

bench_fixtures   # dirty-mem, the bench rootfs and the podman image (lib.sh)
select_engines   # how this crpod takes --engine (cr-tools.sh)
TOOLS=()
for f in "${TOOL_FAMILIES[@]}"; do
    if [ "$f" = crpod ]; then
        for e in "${ENGINE_LIST[@]}"; do TOOLS+=("crpod-$e"); done
    else
        TOOLS+=("$f")
    fi
done

# ------------------------------------------------------------ pods

log "work directory $WORK ($(fstype "$WORK") on $(fsdev "$WORK"))"
has_family podman || NO_PODMAN=1
src_dst_pods --hostname crbench   # lib.sh
DST_JSON=$("$CRPOD" pod inspect "${CR[@]}" --format json "$CRPOD_DST")
DST_INFRA=$(jq -r .infraPid <<< "$DST_JSON")
DST_CGROUP=$(jq -r .cgroupPath <<< "$DST_JSON")

# ------------------------------------------------------------ run

WORKLOADS=(counter dirty-mem)
for r in $(seq 1 "$RUNS"); do
    for w in "${WORKLOADS[@]}"; do
        for t in $(rotated "$r" "${TOOLS[@]}"); do
            case $t in crpod-*) [ -z "${ENGINE_FAILED[${t#crpod-}]:-}" ] || continue ;; esac
            for v in $(variants "$t" "$w"); do
                log "round $r/$RUNS: $w, $t ($v)"
                sample "$t" "$w" "$v" "$r"
            done
        done
    done
done

write_report > "$WORK/report.md"
publish_report   # lib.sh
