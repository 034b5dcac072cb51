#!/usr/bin/env bash
# contrib/bench/cr-tools.sh - one sample of each tool for cr-bench.sh (sourced, not run):
# checkpoint a fresh container in the src pod, restore it into the dst pod, remove both.
# Reads cr-bench.sh's globals (CRPOD, CR, WORK, TAG, pods, BENCH_ROOTFS, ...).

# ------------------------------------------------------------ tools, variants, order

has_family() { local f; for f in "${TOOL_FAMILIES[@]}"; do [ "$f" = "$1" ] && return 0; done; return 1; }

# variants TOOL WORKLOAD: the archive compressions sampled (raw = images only, no archive)
variants() {
    case $1 in
        runc|criu) echo raw ;;
        *) if [ "$2" = counter ]; then echo zstd; else echo zstd none; fi ;;
    esac
}

# rotated ROUND TOOL...: the tools, starting at a different one each round
rotated() {
    local r=$1; shift
    local n=$# i
    local -a all=("$@")
    for (( i = 0; i < n; i++ )); do echo "${all[$(( (i + r - 1) % n ))]}"; done
}

archive_suffix() { case $1 in zstd) echo .tar.zst ;; none) echo .tar ;; esac; }

# sample TOOL WORKLOAD VARIANT ROUND
sample() {
    case $1 in
        podman) sample_podman "$2" "$3" "$4" ;;
        runc) sample_runc "$2" "$4" ;;
        criu) sample_criu "$2" "$4" ;;
        crpod-*) sample_crpod "${1#crpod-}" "$2" "$3" "$4" ;;
    esac
}

# record_sample TOOL WORKLOAD VARIANT CKPT_US FROZEN_US RESTORE_US [ARCHIVE]
record_sample() {
    local key=$2-$3
    record "ckpt-$1" "$key" "$4"
    [ -z "$5" ] || record "frozen-$1" "$key" "$5"
    record "restore-$1" "$key" "$6"
    [ -z "${7:-}" ] || record "size-$1" "$key" "$(stat -c %s "$7")"
}

workload_cmd() { mapfile -d '' CMD < <(workload_args "$1"); }   # sets CMD

# ------------------------------------------------------------ crpod and its engines

# select_engines: find how this crpod takes --engine (before the command, or as an option of
# it) into ENGINE_FORM, and check every engine in ENGINE_LIST is accepted. A crpod without
# --engine is run as it is, for the engine list "runc" only (today's only path).
ENGINE_FORM=none
select_engines() {
    local e
    if "$CRPOD" --engine runc ps "${CR[@]}" >/dev/null 2>&1; then
        ENGINE_FORM=prefix
    elif "$CRPOD" ps "${CR[@]}" --engine runc >/dev/null 2>&1; then
        ENGINE_FORM=option
    elif [ "${ENGINE_LIST[*]}" = runc ] || ! has_family crpod; then
        ENGINE_FORM=none
        log "this crpod has no --engine option: crpod-runc is crpod as it is"
        return 0
    else
        die "this crpod has no --engine option; run with --crpod-engines runc (or build a crpod that has it)"
    fi
    for e in "${ENGINE_LIST[@]}"; do
        crp "$e" ps >/dev/null 2>>"$ERRLOG" || die "crpod does not accept --engine $e (see $ERRLOG)"
    done
    log "crpod takes --engine $([ "$ENGINE_FORM" = prefix ] && echo 'before the command' || echo 'as a command option')"
}

# crp ENGINE COMMAND ARGS...: crpod COMMAND with the bench's root/run-root, run by ENGINE
crp() {
    local e=$1 verb=$2; shift 2
    case $ENGINE_FORM in
        prefix) "$CRPOD" --engine "$e" "$verb" "${CR[@]}" "$@" ;;
        option) "$CRPOD" "$verb" "${CR[@]}" --engine "$e" "$@" ;;
        *) "$CRPOD" "$verb" "${CR[@]}" "$@" ;;
    esac
}

# crpod_start ENGINE NAME WORKLOAD: run the workload in the src pod, wait for its first line
crpod_start() {
    workload_cmd "$3"
    CRPOD_CTRS+=("$1 $2")
    crp "$1" run --name "$2" --pod "$CRPOD_SRC" --rootfs "$BENCH_ROOTFS" -- "${CMD[@]}" >/dev/null
    wait_output "crpod container $2" "$(ready_pattern "$3")" crp "$1" logs "$2"
}

# A crpod engine that fails a sample is reported with the failure and skipped from then on
# (crpod's engines are what is under test; the other tools failing ends the run).
declare -A ENGINE_FAILED=()

# engine_failed ENGINE STEP NAME...: remember why, remove the sample's containers
engine_failed() {
    local e=$1 step=$2 n why
    shift 2
    why=$(grep -v '^[[:space:]]*$' "$ERRLOG" | tail -n 1 | cut -c1-300)
    ENGINE_FAILED[$e]="$step failed: ${why:-no message}"
    log "crpod engine $e: ${ENGINE_FAILED[$e]}; skipping it from now on"
    for n in "$@"; do crp "$e" rm -f "$n" >/dev/null 2>&1 || true; done
}

sample_crpod() {   # sample_crpod ENGINE WORKLOAD VARIANT ROUND
    local e=$1 w=$2 v=$3 name=$TAG-$1-$2-$3-$4 t_ckpt t_restore frozen state
    local file=$WORK/out/$name$(archive_suffix "$v")
    [ -z "${ENGINE_FAILED[$e]:-}" ] || return 0
    crpod_start "$e" "$name" "$w"
    if ! try_timed t_ckpt crp "$e" checkpoint --export "$file" --compress "$v" --print-stats "$name"; then
        engine_failed "$e" "checkpoint ($w, $v)" "$name"
        return 0
    fi
    frozen=$(jq '.container_statistics[0].criu_statistics.frozen_time // empty' "$WORK/logs/last.out")
    crp "$e" rm -f "$name" >/dev/null
    CRPOD_CTRS+=("$e $name-r")
    if ! try_timed t_restore crp "$e" restore --import "$file" --pod "$CRPOD_DST" --name "$name-r" --print-stats; then
        engine_failed "$e" "restore ($w, $v)" "$name-r"
        return 0
    fi
    state=$(crp "$e" inspect --format json "$name-r" | jq -r .state)
    if [ "$state" != running ]; then
        echo "restored container is $state, not running" >> "$ERRLOG"
        engine_failed "$e" "restore ($w, $v)" "$name-r"
        return 0
    fi
    record_sample "crpod-$e" "$w" "$v" "$t_ckpt" "$frozen" "$t_restore" "$file"
    crp "$e" rm -f "$name-r" >/dev/null
    rm -f "$file"
}

# ------------------------------------------------------------ podman

sample_podman() {   # sample_podman WORKLOAD VARIANT ROUND
    local w=$1 v=$2 name=$TAG-podman-$1-$2-$3 t_ckpt t_restore frozen
    local file=$WORK/out/$name$(archive_suffix "$v")
    workload_cmd "$w"
    PODMAN_CTRS+=("$name" "$name-r")
    podman run -d --pod "$PODMAN_SRC" --name "$name" "$IMAGE" "${CMD[@]}" >/dev/null
    wait_output "podman container $name" "$(ready_pattern "$w")" podman logs "$name"
    timed t_ckpt podman container checkpoint --export "$file" --compress "$v" --print-stats "$name"
    frozen=$(jq '.container_statistics[0].criu_statistics.frozen_time // empty' "$WORK/logs/last.out")
    podman rm -f -t 0 "$name" >/dev/null
    timed t_restore podman container restore --import "$file" --pod "$PODMAN_DST_ID" --name "$name-r" --print-stats
    [ "$(podman inspect --format '{{.State.Running}}' "$name-r")" = true ] || die "podman restore of $name is not running"
    record_sample podman "$w" "$v" "$t_ckpt" "$frozen" "$t_restore" "$file"
    podman rm -f -t 0 "$name-r" >/dev/null
    rm -f "$file"
}

# ------------------------------------------------------------ runc alone

# runc_bundle_for_dst BUNDLE NEWBUNDLE CGROUP: a copy of a crpod bundle whose joined
# namespaces are dst's infra's, in CGROUP; its CRIU config file (org.criu.config) is copied
# with the unified cgroup-root moved to CGROUP too.
runc_bundle_for_dst() {
    local config=$1/config.json criu_conf
    mkdir -p "$2"
    criu_conf=$(jq -r '.annotations["org.criu.config"] // empty' "$config")
    if [ -n "$criu_conf" ]; then
        sed "s|^cgroup-root .*|cgroup-root \":$3\"|" "$criu_conf" > "$2/criu.conf"
    fi
    jq --arg ns "/proc/$DST_INFRA/ns" --arg cg "$3" --arg conf "$2/criu.conf" --arg hasconf "$criu_conf" '
        .linux.namespaces |= map(if .path then .path = ($ns + "/" + (if .type == "network" then "net" else .type end)) else . end)
        | .linux.cgroupsPath = $cg
        | if $hasconf != "" then .annotations["org.criu.config"] = $conf else . end' "$config" > "$2/config.json"
}

sample_runc() {   # sample_runc WORKLOAD ROUND
    local w=$1 name=$TAG-runc-$1-$2 t_ckpt t_restore id bundle
    local img=$WORK/out/$name-img wrk=$WORK/out/$name-work rwrk=$WORK/out/$name-rwork nb=$WORK/out/$name-bundle
    local cg=$DST_CGROUP/$name-r
    crpod_start runc "$name" "$w"
    id=$(crp runc inspect --format json "$name" | jq -r .id)
    bundle=$(crp runc inspect --format json "$name" | jq -r .bundle)
    mkdir -p "$img" "$wrk" "$rwrk"
    timed t_ckpt runc --root "$WORK/run/runc" checkpoint --manage-cgroups-mode soft \
        --image-path "$img" --work-path "$wrk" "$id"
    runc_bundle_for_dst "$bundle" "$nb" "$cg"
    RESTORED_CGROUPS+=("$cg")
    timed t_restore runc --root "$WORK/runc-restored" restore --detach --image-path "$img" \
        --work-path "$rwrk" --bundle "$nb" --pid-file "$rwrk/pid" --manage-cgroups-mode soft "$name-r"
    kill -0 "$(cat "$rwrk/pid")" || die "runc restore of $name: process not running"
    record_sample runc "$w" raw "$t_ckpt" "$(criu_stat "$wrk/stats-dump" frozen_time)" "$t_restore"
    runc --root "$WORK/runc-restored" delete -f "$name-r" >/dev/null
    cgroup_kill_remove "$cg"
    crp runc rm -f "$name" >/dev/null
    rm -rf "$img" "$wrk" "$rwrk" "$nb"
}

# ------------------------------------------------------------ bare CRIU

# cgroup_hierarchies CGROUP: "controller dir" per mounted hierarchy holding CGROUP's parent
# (controller as --cgroup-root names it, except "unified" for cgroup2, whose name there is "")
cgroup_hierarchies() {
    local parent=${1%/*} h c
    if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
        echo "unified /sys/fs/cgroup$1"
        return
    fi
    for h in /sys/fs/cgroup/*; do
        [ -L "$h" ] || [ ! -d "$h$parent" ] && continue
        case ${h##*/} in systemd) c=name=systemd ;; *) c=${h##*/} ;; esac
        echo "$c $h$1"
    done
}

# cgroup_make CGROUP: create it in every hierarchy (cpuset copies its parent's cpus and mems)
cgroup_make() {
    local c d
    while read -r c d; do
        mkdir -p "$d"
        if [ -f "$d/cpuset.cpus" ] && [ -z "$(cat "$d/cpuset.cpus")" ]; then
            cat "${d%/*}/cpuset.cpus" > "$d/cpuset.cpus"
            cat "${d%/*}/cpuset.mems" > "$d/cpuset.mems"
        fi
    done < <(cgroup_hierarchies "$1")
}

# cgroup_kill_remove CGROUP: SIGKILL what is in it, then remove it from every hierarchy
cgroup_kill_remove() {
    local c d p tries
    while read -r c d; do
        [ -d "$d" ] || continue
        for tries in 1 2 3 4 5 6 7 8 9 10; do
            [ -n "$(cat "$d/cgroup.procs" 2>/dev/null)" ] || break
            while read -r p; do kill -9 "$p" 2>/dev/null; done < "$d/cgroup.procs"
            sleep 0.1
        done
        rmdir "$d" 2>/dev/null || log "could not remove cgroup $d"
    done < <(cgroup_hierarchies "$1")
}

# criu_restore_into_dst IMAGES ROOT CGROUP STDOUT_KEY STDERR_KEY: criu restore into the dst
# pod (its netns as fd 3, its ipc and uts joined), stdout/stderr pipes re-attached to this
# process's fds 1 and 2
criu_restore_into_dst() {
    local -a args=(restore -D "$1" -W "$1" -o restore.log -v4 --restore-detached
                   --pidfile "$1/restored.pid" --root "$2" --manage-cgroups=soft
                   --inherit-fd "fd[3]:extRootNetNS"
                   --join-ns "ipc:/proc/$DST_INFRA/ns/ipc" --join-ns "uts:/proc/$DST_INFRA/ns/uts")
    local c d
    while read -r c d; do args+=(--cgroup-root "${c#unified}:$3"); done < <(cgroup_hierarchies "$3")
    case $4 in pipe:*) args+=(--inherit-fd "fd[1]:$4") ;; esac
    case $5 in pipe:*) [ "$5" = "$4" ] || args+=(--inherit-fd "fd[2]:$5") ;; esac
    criu "${args[@]}" 3<"/proc/$DST_INFRA/ns/net"
}

sample_criu() {   # sample_criu WORKLOAD ROUND
    local w=$1 name=$TAG-criu-$1-$2 t_ckpt t_restore json pid bundle root out1 out2
    local img=$WORK/out/$name-img cg=$DST_CGROUP/$name-r
    crpod_start runc "$name" "$w"
    json=$(crp runc inspect --format json "$name")
    pid=$(jq -r .pid <<< "$json")
    bundle=$(jq -r .bundle <<< "$json")
    root=$(jq -r .root.path "$bundle/config.json")
    case $root in /*) ;; *) root=$bundle/$root ;; esac
    out1=$(readlink "/proc/$pid/fd/1")
    out2=$(readlink "/proc/$pid/fd/2")
    mkdir -p "$img"
    timed t_ckpt criu dump -t "$pid" -D "$img" -W "$img" -o dump.log -v4 --root "$root" \
        --manage-cgroups=soft --network-lock skip --external "net[$(stat -L -c %i "/proc/$pid/ns/net")]:extRootNetNS"
    cgroup_make "$cg"
    RESTORED_CGROUPS+=("$cg")
    timed t_restore criu_restore_into_dst "$img" "$root" "$cg" "$out1" "$out2"
    kill -0 "$(cat "$img/restored.pid")" || die "criu restore of $name: process not running"
    record_sample criu "$w" raw "$t_ckpt" "$(criu_stat "$img/stats-dump" frozen_time)" "$t_restore"
    cgroup_kill_remove "$cg"
    crp runc rm -f "$name" >/dev/null
    rm -rf "$img"
}
