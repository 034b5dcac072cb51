#!/usr/bin/env bash
#
# contrib/podman/make-fixtures.sh - make real podman checkpoint archives
# (`podman container checkpoint --export`) as test fixtures for crpod.
#
# Usage (as root, after contrib/podman/setup-podman.sh):
#   contrib/podman/make-fixtures.sh [OUTDIR]
#
# OUTDIR defaults to Tests/Fixtures/podman in this repository.  It writes:
#   pod-member.tar.zst      member of a pod with podman's default sharing
#                           (ipc, net, uts through the infra container),
#                           --compress zstd
#   pod-member-pid.tar.gz   member of a pod created with
#                           --share ipc,net,uts,pid, --compress gzip
#   standalone.tar          a container in no pod, --compress none
# and next to each a <fixture>.facts.json with what the tests may assert,
# taken from `podman inspect` / `podman pod inspect` and from the archive
# listing (never typed by hand): container name and id, pod id/name/shared
# namespaces (null for the standalone container), infra container id,
# podman/CRIU/runc versions, compression, the file added to and the file
# deleted from the container's rootfs, and the archive's members.
#
# Each container runs the busybox counter
#   sh -c 'i=0; while true; do echo $i; i=$((i+1)); sleep 1; done'
# from localhost/busybox:crpod; before the checkpoint `podman exec` writes
# /tmp/hello ("hello") and deletes the applet link /bin/vi, so that
# rootfs-diff.tar and deleted.files are non-empty but small.
#
# Every container and pod it makes is named crpod-fx-* and removed at the
# end (also on failure); leftovers of an earlier run are removed first.
#
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUTDIR=${1:-$REPO/Tests/Fixtures/podman}
IMAGE=${CRPOD_PODMAN_IMAGE:-localhost/busybox:crpod}
PREFIX=crpod-fx
# shellcheck disable=SC2016  # expanded by the container's sh, not here
COUNTER='i=0; while true; do echo $i; i=$((i+1)); sleep 1; done'
ADDED_FILE=/tmp/hello
DELETED_FILE=/bin/vi
MAX_SIZE=$((1024 * 1024))

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export LC_ALL=C TZ=UTC

log() { printf '==> %s\n' "$*"; }
die() { printf 'make-fixtures.sh: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "make-fixtures.sh: ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

case ${1:-} in -h|--help) sed -n '2,/^set -/{/^set -/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;; esac
[ $# -le 1 ] || die "too many arguments (see --help)"
[ "$(id -u)" = 0 ] || die "must run as root (rootful podman)"
for c in podman jq zstd gzip tar sha256sum criu runc; do
    command -v "$c" >/dev/null || die "$c not found (run contrib/provision.sh and contrib/podman/setup-podman.sh)"
done
podman image exists "$IMAGE" || die "image $IMAGE missing (run contrib/podman/setup-podman.sh)"

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d /tmp/crpod-podman-fixtures.XXXXXX)

# ------------------------------------------------------------- clean up

cleanup() {
    local c p
    for c in $(podman ps -a --format '{{.Names}}' | grep "^$PREFIX-" || true); do
        podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
    done
    for p in $(podman pod ps --format '{{.Name}}' | grep "^$PREFIX-" || true); do
        podman pod rm -f -t 0 "$p" >/dev/null 2>&1 || true
    done
}
trap 'cleanup; rm -rf "$WORK"' EXIT
cleanup

# ------------------------------------------------------------- helpers

PODMAN_VERSION=$(podman version --format '{{.Client.Version}}')
CRIU_VERSION=$(criu --version | sed -n 's/^Version: *//p' | head -n1)
RUNC_VERSION=$(runc --version | sed -n 's/^runc version *//p' | head -n1)

# list_archive FILE COMPRESSION [-v]: tar listing of the archive.
list_archive() {
    local f=$1 comp=$2 opts=(-t)
    [ -z "${3:-}" ] || opts+=("$3")
    case $comp in
        zstd) zstd -dcq -- "$f" | tar "${opts[@]}" -f - ;;
        gzip) gzip -dc -- "$f" | tar "${opts[@]}" -f - ;;
        none) tar "${opts[@]}" -f "$f" ;;
        *) die "unknown compression $comp" ;;
    esac
}

# extract_member FILE COMPRESSION MEMBER: member's content on stdout (empty if absent).
extract_member() {
    local f=$1 comp=$2 m=$3
    case $comp in
        zstd) zstd -dcq -- "$f" | tar -xOf - "$m" 2>/dev/null || true ;;
        gzip) gzip -dc -- "$f" | tar -xOf - "$m" 2>/dev/null || true ;;
        none) tar -xOf "$f" "$m" 2>/dev/null || true ;;
    esac
}

# wait_counter CTR: until the counter has printed at least "2".
wait_counter() {
    local _
    for _ in $(seq 1 50); do
        podman logs "$1" 2>/dev/null | grep -qx 2 && return 0
        sleep 0.2
    done
    die "counter in $1 did not start"
}

# make_fixture NAME COMPRESSION SHARE
#   SHARE: "" for a container without a pod, "default" for podman's default
#   pod sharing, else a --share list.
make_fixture() {
    local fixture=$1 comp=$2 share=$3
    local base=${fixture%%.*}
    local ctr=$PREFIX-$base pod=null podjson=null archive facts
    local pod_args=()

    log "fixture $fixture"
    if [ -n "$share" ]; then
        pod=$PREFIX-$base-pod
        if [ "$share" = default ]; then
            podman pod create --name "$pod" >/dev/null
        else
            podman pod create --name "$pod" --share "$share" >/dev/null
        fi
        pod_args=(--pod "$pod")
        podjson=$(podman pod inspect "$pod" | jq 'if type == "array" then .[0] else . end')
    fi
    podman run -d "${pod_args[@]}" --name "$ctr" "$IMAGE" sh -c "$COUNTER" >/dev/null
    wait_counter "$ctr"
    podman exec "$ctr" sh -c "echo hello > $ADDED_FILE && rm $DELETED_FILE"
    local ctrjson
    ctrjson=$(podman container inspect "$ctr" | jq '.[0]')

    archive=$WORK/$fixture
    podman container checkpoint --export "$archive" --compress "$comp" "$ctr" >/dev/null
    [ -s "$archive" ] || die "checkpoint of $ctr produced no archive"

    local size sha members members_v dumpver has_dumplog=false
    size=$(stat -c %s "$archive")
    sha=$(sha256sum "$archive" | cut -d' ' -f1)
    members=$(list_archive "$archive" "$comp")
    members_v=$(list_archive "$archive" "$comp" -v)
    grep -qx checkpoint/dump.log <<<"$members" && has_dumplog=true
    dumpver=$(extract_member "$archive" "$comp" checkpoint/dump.log | grep -m1 -o 'Version: *[^ ]*' | sed 's/^Version: *//' || true)
    [ "$size" -lt "$MAX_SIZE" ] || log "warning: $fixture is $size bytes (>= 1 MiB)"

    facts=$WORK/$fixture.facts.json
    jq -n \
        --arg fixture "$fixture" --arg comp "$comp" \
        --argjson size "$size" --arg sha "$sha" \
        --argjson ctr "$ctrjson" --argjson pod "$podjson" \
        --arg podman "$PODMAN_VERSION" --arg criu "$CRIU_VERSION" --arg runc "$RUNC_VERSION" \
        --arg image "$IMAGE" --arg added "$ADDED_FILE" --arg deleted "$DELETED_FILE" \
        --arg dumpver "$dumpver" --argjson has_dumplog "$has_dumplog" \
        --arg members "$members" --arg members_v "$members_v" \
        '{
          fixture: $fixture,
          size: $size,
          sha256: $sha,
          compression: $comp,
          podman_version: $podman,
          criu_version: $criu,
          runc_version: $runc,
          has_dump_log: $has_dumplog,
          dump_log_criu_version: (if $dumpver == "" then null else $dumpver end),
          image: $image,
          image_id: $ctr.Image,
          container_name: $ctr.Name,
          container_id: $ctr.Id,
          container_command: ([$ctr.Path] + $ctr.Args),
          container_hostname: $ctr.Config.Hostname,
          pod_id: (if $pod == null then null else $pod.Id end),
          pod_name: (if $pod == null then null else $pod.Name end),
          pod_shared_namespaces: (if $pod == null then null else ($pod.SharedNamespaces | sort) end),
          pod_infra_container_id: (if $pod == null then null else $pod.InfraContainerID end),
          pod_cgroup_parent: (if $pod == null then null else $pod.CgroupParent end),
          rootfs_added: [$added],
          rootfs_deleted: [$deleted],
          members: ($members | split("\n") | map(select(. != ""))),
          members_verbose: ($members_v | split("\n") | map(select(. != "")))
        }' >"$facts"

    podman rm -f -t 0 "$ctr" >/dev/null
    [ "$pod" = null ] || podman pod rm -f -t 0 "$pod" >/dev/null

    chmod 0644 "$archive" "$facts"
    mv -f "$archive" "$OUTDIR/$fixture"
    mv -f "$facts" "$OUTDIR/$fixture.facts.json"
    log "  $OUTDIR/$fixture: $size bytes, $(wc -l <<<"$members") members"
}

make_fixture pod-member.tar.zst zstd default
make_fixture pod-member-pid.tar.gz gzip ipc,net,uts,pid
make_fixture standalone.tar none ""

log "fixtures in $OUTDIR (podman $PODMAN_VERSION, CRIU $CRIU_VERSION)"
