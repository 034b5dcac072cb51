#!/usr/bin/env bash
#
# contrib/fuzz.sh - build crpod's libFuzzer targets (Fuzz/) and run each for a while.
#
# Usage:
#   contrib/fuzz.sh [MINUTES] [TARGET...]     fuzz each target MINUTES (default 5) minutes
#   contrib/fuzz.sh --brief [TARGET...]       20 seconds each, fixed seed (for CI)
#   contrib/fuzz.sh --regressions [TARGET...] only replay Fuzz/regressions/<target>/*
#   Options (before the others): --no-build, --no-regressions (skip the replay that precedes
#   fuzzing), --nice N (default 10), --seconds S (instead of MINUTES), --seed N (libFuzzer's
#   -seed; --brief uses 1 so CI replays the same mutation sequence on every run — a CI
#   failure is then one the next run reproduces, and new findings come from the long runs).
#
# Targets (default: all): fuzz-archive fuzz-validator fuzz-images fuzz-spec fuzz-proc.
#
# What it does:
#   1. Builds Fuzz/ (a separate SwiftPM package using the root's library products) with
#        swift build --package-path Fuzz --scratch-path .build-fuzz -c debug \
#          -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
#      ($CRPOD_FUZZ_SANITIZE replaces "fuzzer,address", e.g. "fuzzer" for speed).
#   2. Replays every saved reproducer in Fuzz/regressions/<target>/ once, with every
#      property checked. One that still fails counts as "known (unfixed)" when its property
#      is listed in Fuzz/known-findings.txt, and fails the script otherwise.
#   3. Runs each target with -max_total_time on a working corpus in .build-fuzz/corpus/<t>
#      (new inputs go there, git-ignored), seeded read-only from Fuzz/corpus/<t> and, for
#      fuzz-archive, tiny tars built here with tar(1). Crashes, timeouts and OOMs go to
#      Fuzz/crashes/<t>/; the log to .build-fuzz/logs/<t>.log. Properties listed in
#      Fuzz/known-findings.txt are not checked while fuzzing (CRPOD_FUZZ_IGNORE), so a known,
#      unfixed finding does not hide new ones.
#   4. Prints one summary line per target: runs, runs/s, coverage (cov/ft), corpus, crashes.
# Exit status: 1 when a target crashed or a regression failed that is not a known finding.
#
# A crash: reproduce with `.build-fuzz/debug/<target> Fuzz/crashes/<target>/crash-…`; once
# understood, move it to Fuzz/regressions/<target>/ with a descriptive name; once fixed in
# Sources/, delete its line from Fuzz/known-findings.txt.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:${PATH:-/usr/bin:/bin}"

ALL_TARGETS=(fuzz-archive fuzz-validator fuzz-images fuzz-spec fuzz-proc)
SCRATCH=${CRPOD_FUZZ_SCRATCH:-.build-fuzz}
SANITIZE=${CRPOD_FUZZ_SANITIZE:-fuzzer,address}
KNOWN=Fuzz/known-findings.txt
seconds=300
build=1
replay=1
fuzzing=1
nice_level=10
seed=0

while (($#)); do
    case "$1" in
        --brief) seconds=20; seed=1; shift ;;
        --seed) seed=$2; shift 2 ;;
        --regressions) fuzzing=0; shift ;;
        --no-build) build=0; shift ;;
        --no-regressions) replay=0; shift ;;
        --nice) nice_level=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        [0-9]*) seconds=$(( $1 * 60 )); shift ;;
        *) break ;;
    esac
done
targets=("$@")
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "unknown target $t (have: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

say() { printf '== %s\n' "$*" >&2; }

if ((build)); then
    say "building ${targets[*]} (-sanitize=$SANITIZE)"
    log=$(mktemp)
    if ! nice -n "$nice_level" swift build --package-path Fuzz --scratch-path "$SCRATCH" -c debug \
        -Xswiftc -sanitize="$SANITIZE" -Xswiftc -parse-as-library >"$log" 2>&1; then
        grep -v "Cannot export local symbol" "$log" | tail -40 >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
fi
bin="$SCRATCH/debug"

# Known findings: "target property  description" lines.
known_properties() {
    [[ -f $KNOWN ]] || return 0
    awk -v t="$1" '$1 == t { print $2 }' "$KNOWN" | paste -sd, -
}

export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:handle_sigill=0}
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi

# Tiny archives for fuzz-archive, from the validator seeds (nothing binary is committed).
make_archive_seeds() {
    local out=$1 work
    work=$(mktemp -d)
    mkdir -p "$out" "$work/ckpt/checkpoint" "$work/hostile"
    local v=Fuzz/corpus/fuzz-validator
    cp "$v/config-crpod.json" "$work/ckpt/config.dump"
    cp "$v/spec-standalone.json" "$work/ckpt/spec.dump"
    cp "$v/stats-dump" "$work/ckpt/stats-dump"
    cp "$v/inventory.img" "$v/pstree.img" "$v/utsns.img" "$v/files.img" "$v/dump.log" "$work/ckpt/checkpoint/"
    mv "$work/ckpt/checkpoint/utsns.img" "$work/ckpt/checkpoint/utsns-12.img"
    printf '["/bin/vi"]' >"$work/ckpt/deleted.files"
    # crpod's manifest: every regular file with its size and SHA-256, sorted by name.
    (
        cd "$work/ckpt"
        printf '{"members":['
        first=1
        while IFS= read -r f; do
            f=${f#./}
            ((first)) || printf ','
            first=0
            printf '{"name":"%s","sha256":"%s","size":%d}' "$f" "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")"
        done < <(find . -type f | LC_ALL=C sort)
        printf '],"version":1}'
    ) >"$work/manifest.json"
    mv "$work/manifest.json" "$work/ckpt/crpod-manifest.json"
    local tarflags=(--owner=0 --group=0 --numeric-owner --mtime=@0 -b 1)
    local names=(config.dump spec.dump stats-dump deleted.files checkpoint checkpoint/inventory.img
        checkpoint/pstree.img checkpoint/utsns-12.img checkpoint/files.img checkpoint/dump.log crpod-manifest.json)
    tar "${tarflags[@]}" --no-recursion -C "$work/ckpt" -cf "$out/crpod-checkpoint.tar" "${names[@]}"
    tar "${tarflags[@]}" -C "$work/ckpt" -cf "$out/podman-dot-slash.tar" .
    tar "${tarflags[@]}" --format=pax --no-recursion -C "$work/ckpt" -cf "$work/small.tar" config.dump checkpoint/inventory.img
    gzip -9n <"$work/small.tar" >"$out/small.tar.gz"
    zstd -q -19 <"$work/small.tar" >"$out/small.tar.zst"
    xz -9 <"$work/small.tar" >"$out/small.tar.xz"
    bzip2 -9 <"$work/small.tar" >"$out/small.tar.bz2"
    lz4 -q -9 <"$work/small.tar" >"$out/small.tar.lz4"
    # A member larger than the extractor's 1 MiB buffer (the hashing pipeline), compressed.
    head -c $((3 << 20)) /dev/zero >"$work/ckpt/checkpoint/pages-1.img"
    tar "${tarflags[@]}" --no-recursion -C "$work/ckpt" -cf - config.dump checkpoint/pages-1.img | zstd -q -19 >"$out/large-member.tar.zst"
    rm "$work/ckpt/checkpoint/pages-1.img"
    # Hostile members: a symlink out, a hard link, a fifo, a dot-dot name, a long pax name.
    ln -s ../../etc/passwd "$work/hostile/link"
    echo data >"$work/hostile/file"
    ln "$work/hostile/file" "$work/hostile/hardlink"
    mkfifo "$work/hostile/fifo"
    mkdir -p "$work/hostile/$(printf 'd%.0s' {1..120})"
    echo long >"$work/hostile/$(printf 'd%.0s' {1..120})/$(printf 'f%.0s' {1..120})"
    tar "${tarflags[@]}" --format=pax -C "$work/hostile" -cf "$out/hostile.tar" .
    tar "${tarflags[@]}" -P --transform 's,^file$,../escape,' --no-recursion -C "$work/hostile" -cf "$out/dotdot.tar" file
    rm -rf "$work"
}

total_failed=0
summary=()

replay_regressions() {
    local t=$1 dir="Fuzz/regressions/$1" known pass=0 knownfail=0 fail=0 f out prop
    [[ -d $dir ]] || return 0
    known=",$(known_properties "$t"),"
    for f in "$dir"/*; do
        [[ -f $f && $f != *.md && $f != *.txt ]] || continue
        if out=$(CRPOD_FUZZ_IGNORE= timeout 120 "$bin/$t" "$f" 2>&1); then
            pass=$((pass + 1))
        else
            prop=$(grep -o 'property [a-z0-9-]* violated' <<<"$out" | head -1 | awk '{print $2}' || true)
            if [[ -n $prop && $known == *",$prop,"* ]]; then
                knownfail=$((knownfail + 1))
            else
                fail=$((fail + 1))
                echo "REGRESSION $t: $f fails${prop:+ (property $prop)}:" >&2
                grep -E 'Fatal error|ERROR|SUMMARY' <<<"$out" | head -5 >&2 || true
            fi
        fi
    done
    summary+=("$(printf '%-15s regressions: %d pass, %d known (unfixed), %d FAIL' "$t" "$pass" "$knownfail" "$fail")")
    ((fail == 0)) || total_failed=1
}

run_target() {
    local t=$1 corpus="$SCRATCH/corpus/$1" seeds=() crashes="Fuzz/crashes/$1" logdir="$SCRATCH/logs"
    # (a target may have no committed seeds: fuzz-archive's are built below)
    [[ -d Fuzz/corpus/$1 ]] && seeds+=("Fuzz/corpus/$1")
    mkdir -p "$corpus" "$crashes" "$logdir"
    if [[ $t == fuzz-archive ]]; then
        make_archive_seeds "$SCRATCH/seeds/fuzz-archive"
        seeds+=("$SCRATCH/seeds/fuzz-archive")
    fi
    local before after log="$logdir/$t.log"
    before=$(find "$crashes" -type f | wc -l)
    say "fuzzing $t for ${seconds}s (log: $log)"
    local rc=0 dict=()
    [[ -f Fuzz/dict/$t.dict ]] && dict+=("-dict=Fuzz/dict/$t.dict")
    CRPOD_FUZZ_IGNORE=$(known_properties "$t") nice -n "$nice_level" "$bin/$t" "$corpus" "${seeds[@]}" \
        -max_total_time="$seconds" -seed="$seed" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
        "${dict[@]}" -artifact_prefix="$crashes/" >"$log" 2>&1 || rc=$?
    after=$(find "$crashes" -type f | wc -l)
    local runs rate cov ft units
    # (|| true: a crash while loading the corpus leaves no cov/ft line; set -e must not end the run)
    runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1 || true)
    rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log" | tail -1 || true)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
    units=$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | awk '{print $2}' || true)
    summary+=("$(printf '%-15s runs: %s (%s/s), cov: %s, ft: %s, corpus: %s, new crashes: %d%s' \
        "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$units" "$((after - before))" \
        "$( ((rc)) && echo " (exit $rc, see $log)")")")
    if ((after > before)); then
        total_failed=1
        grep -E 'Fatal error|ERROR: |SUMMARY|Test unit written' "$log" | head -6 >&2 || true
    fi
}

for t in "${targets[@]}"; do
    ((replay)) && replay_regressions "$t"
    ((fuzzing)) && run_target "$t"
done
printf '%s\n' "${summary[@]}"
exit "$total_failed"
