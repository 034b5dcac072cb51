#!/usr/bin/env bash
# contrib/bench/cr-report.sh - the result file of cr-bench.sh (sourced, not run): medians side by
# side, ratios against issue 12's targets, min/median/max per cell, raw samples.
# Reads $WORK/data/<op>-<tool>.<workload>-<variant> (µs, or bytes for size), op = ckpt, frozen,
# restore, size.

# med OP TOOL WORKLOAD VARIANT: median in ms (size: MiB), or nothing without samples
med() {
    local f=$WORK/data/$1-$2.$3-$4
    [ -s "$f" ] || return 0
    if [ "$1" = size ]; then median "$f" 1048576; else median "$f" 1000; fi
}

# cell OP TOOL WORKLOAD: the medians of the tool's variants, "a / b", or – without samples
cell() {
    local v out="" m
    for v in $(variants "$2" "$3"); do
        m=$(med "$1" "$2" "$3" "$v")
        out+="${out:+ / }${m:-–}"
    done
    echo "${out:-–}"
}

tool_label() {
    case $1 in
        podman) echo "podman $(podman version --format '{{.Client.Version}}' 2>/dev/null)" ;;
        runc) echo "runc alone" ;;
        criu) echo "bare CRIU" ;;
        crpod-*) echo "crpod ($([ "$ENGINE_FORM" = none ] && echo "no --engine option: runc" || echo "--engine ${1#crpod-}"))" ;;
    esac
}

# target_cell VALUE OP TARGET [SUFFIX]: "value× (met)" or – when a value is missing
target_cell() {
    [ -n "$1" ] || { echo "–"; return; }
    echo "$1${4-×} ($(verdict "$1" "$2" "$3"))"
}

# ratio_or_empty A B: A / B, nothing when either is missing
ratio_or_empty() { [ -n "$1" ] && [ -n "$2" ] && ratio "$1" "$2" || true; }

# precopy_status: why the pre-copy target (1 GiB, 10 MiB dirty, final freeze ≤ 100 ms) is or
# is not measured here
precopy_status() {
    local out config
    if out=$(criu check --feature mem_dirty_track 2>&1); then
        echo "not measured: CRIU reports mem_dirty_track, but this script has no pre-copy run yet"
        return
    fi
    config=$( (cat "/boot/config-$(uname -r)" 2>/dev/null || zcat /proc/config.gz 2>/dev/null) | grep -E '^(# )?CONFIG_MEM_SOFT_DIRTY[ =]' || true)
    echo "not measurable on this host: \`criu check --feature mem_dirty_track\` fails (\"$(tail -n 1 <<< "$out" | sed 's/^.*): //')\"); kernel $(uname -r): \`${config:-CONFIG_MEM_SOFT_DIRTY unknown}\` — no soft-dirty page tracking, so CRIU cannot pre-dump with --track-mem and every dump writes all pages"
}

write_header() {
    echo "### Checkpoint/restore side by side (issue 12), $DATE"
    echo
    report_host_line "; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- crpod $("$CRPOD" --version 2>&1 | head -n 1) ($CRPOD), $(first_line runc --version), CRIU $(criu --version 2>&1 | awk '/Version/ {print $2}'), $(command -v podman >/dev/null && first_line podman --version || echo 'no podman'), $(first_line zstd --version | sed 's/^\*\*\* //; s/, by.*//')"
    echo "- $RUNS samples per cell, round-robin (tool order rotated each round); each sample a fresh container in pod src, checkpointed, then restored into pod dst; wall-clock ms of each command; pods share ipc,net,uts"
    report_quiet_line
    echo "- files under $WORK ($(fstype "$WORK") on $(fsdev "$WORK"))"
}

write_medians() {
    local t row
    echo
    echo "Medians, ms. podman and crpod: \`checkpoint --export\` / \`restore --import\` of an archive; runc alone and bare CRIU: the images only, no archive. Frozen time: CRIU's \`frozen_time\` (stats-dump)."
    echo
    row="| op |"; for t in "${TOOLS[@]}"; do row+=" $(tool_label "$t") |"; done; echo "$row"
    row="|---|"; for t in "${TOOLS[@]}"; do row+="---:|"; done; echo "$row"
    medians_row "checkpoint small" ckpt counter
    medians_row "frozen time, checkpoint small" frozen counter
    medians_row "restore small into another pod" restore counter
    medians_row "checkpoint ${MIB} MiB (export: zstd / none)" ckpt dirty-mem
    medians_row "restore ${MIB} MiB into another pod (import: zstd / none)" restore dirty-mem
    medians_row "archive MiB, ${MIB} MiB (zstd / none)" size dirty-mem
    for t in "${!ENGINE_FAILED[@]}"; do
        echo
        echo "**crpod --engine $t failed** and was skipped from then on: ${ENGINE_FAILED[$t]}"
    done
}

medians_row() {   # medians_row LABEL OP WORKLOAD
    local row="| $1 |" t
    for t in "${TOOLS[@]}"; do row+=" $(cell "$2" "$t" "$3") |"; done
    echo "$row"
}

write_targets() {
    local t row p c precopy
    local -a crpods=()
    for t in "${TOOLS[@]}"; do case $t in crpod-*) crpods+=("$t") ;; esac; done
    [ ${#crpods[@]} -gt 0 ] || return 0
    precopy=$(precopy_status)
    echo
    echo "Issue 12's targets (ratios of the medians above; a missing tool gives –):"
    echo
    row="| target |"; for t in "${crpods[@]}"; do row+=" $(tool_label "$t") |"; done; echo "$row"
    row="|---|"; for t in "${crpods[@]}"; do row+="---|"; done; echo "$row"
    row="| restore small into a pod ≤ 1.5× bare CRIU restore (crpod / CRIU) |"
    for t in "${crpods[@]}"; do
        row+=" $(target_cell "$(ratio_or_empty "$(med restore "$t" counter zstd)" "$(med restore criu counter raw)")" '<=' 1.5) |"
    done; echo "$row"
    row="| restore small into a pod ≥ 4× faster than podman (podman / crpod) |"
    for t in "${crpods[@]}"; do
        row+=" $(target_cell "$(ratio_or_empty "$(med restore podman counter zstd)" "$(med restore "$t" counter zstd)")" '>=' 4) |"
    done; echo "$row"
    row="| import + restore ${MIB} MiB (zstd) ≥ 2.5× faster than podman |"
    for t in "${crpods[@]}"; do
        row+=" $(target_cell "$(ratio_or_empty "$(med restore podman dirty-mem zstd)" "$(med restore "$t" dirty-mem zstd)")" '>=' 2.5) |"
    done; echo "$row"
    row="| checkpoint small: frozen time ≤ 30 ms |"
    for t in "${crpods[@]}"; do row+=" $(target_cell "$(med frozen "$t" counter zstd)" '<=' 30 ' ms') |"; done
    echo "$row"
    for c in zstd none; do
        row="| checkpoint + export ${MIB} MiB ($c) ≥ 2× faster than podman |"
        for t in "${crpods[@]}"; do
            row+=" $(target_cell "$(ratio_or_empty "$(med ckpt podman dirty-mem "$c")" "$(med ckpt "$t" dirty-mem "$c")")" '>=' 2) |"
        done; echo "$row"
    done
    row="| pre-copy: 1 GiB, 10 MiB dirty, final freeze ≤ 100 ms |"
    for t in "${crpods[@]}"; do row+=" **missed** (see below) |"; done; echo "$row"
    echo
    echo "Pre-copy: $precopy."
}

write_report() {
    write_header
    write_medians
    write_targets
    write_details
}
