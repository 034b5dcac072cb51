#!/usr/bin/env bash
# contrib/bench/lib.sh - helpers shared by the bench scripts (sourced,
# not run): logging, timing, waiting for a quiet host, statistics and table labels.
# They read the caller's globals at call time (WORK, ...).

log() { printf '==> %s\n' "$*" >&2; }

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

first_line() { "$@" 2>&1 | head -n 1; }

# check_runs: --help prints the calling script's header and exits; else RUNS must be a number
# >= 5. Uses the caller's RUNS and die().
check_runs() {
    case $RUNS in
        -h|--help) sed -n '2,/^set -/{/^set -/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        ''|*[!0-9]*) die "RUNS must be a number (got '$RUNS')" ;;
    esac
    [ "$RUNS" -ge 5 ] || die "RUNS must be at least 5 (got $RUNS)"
}
