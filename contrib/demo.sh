#!/usr/bin/env bash
# contrib/demo.sh - the crpod demo on a fresh Debian 12 machine (as root).
#
# Provisions the host (contrib/provision.sh), builds crpod, creates two pods, runs a counter
# in pod-a, checkpoints it into an archive, restores the archive into pod-b and shows that the
# counter continued there and that its namespaces are now pod-b's infra's. Then a web pod on
# the crpod CNI network (contrib/provision.sh writes it) publishes a host port and serves HTTP
# with busybox httpd; the whole pod is checkpointed (crpod pod checkpoint), removed, and
# restored (crpod pod restore) with the same address, and the same URL answers again.
# The published host port is 18080 (CRPOD_DEMO_PORT overrides it).
# State goes to a demo root (/tmp/crpod-demo) that is removed at the end; pass --keep to
# leave the pods running and poke at them (the commands to clean up are printed).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
keep=0
[[ "${1:-}" == "--keep" ]] && keep=1

ROOTFS=${CRPOD_TEST_ROOTFS:-/var/lib/crpod-test/rootfs-busybox}
PORT=${CRPOD_DEMO_PORT:-18080}
export CRPOD_ROOT=/tmp/crpod-demo/root CRPOD_RUNROOT=/tmp/crpod-demo/run

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
crpod() { echo "+ crpod $*" >&2; .build/debug/crpod "$@"; }

say "provisioning (idempotent) and building"
contrib/provision.sh >/tmp/crpod-demo-provision.log 2>&1 || { cat /tmp/crpod-demo-provision.log; exit 1; }
swift build 2>&1 | tail -1

cleanup() {
    .build/debug/crpod pod rm -f pod-a pod-b web >/dev/null 2>&1 || true
    rm -rf /tmp/crpod-demo
}
cleanup
(( keep )) || trap cleanup EXIT

say "host check"
crpod check

say "two pods, each sharing ipc,net,uts among its members"
crpod pod create --hostname pod-a pod-a
crpod pod create --hostname pod-b pod-b
crpod pod ls

say "a counter in pod-a"
crpod run --name counter --pod pod-a --rootfs "$ROOTFS" -- \
    sh -c 'i=0; while true; do echo "count $i on $(hostname)"; i=$((i+1)); sleep 1; done'
sleep 3
crpod ps
crpod logs counter | tail -n 3

ns_table() {  # ns_table POD CONTAINER
    local infra pid
    infra=$(crpod pod inspect "$1" --format json | sed -n 's/.*"infraPid" : \([0-9]*\).*/\1/p')
    pid=$(crpod inspect "$2" --format json | sed -n 's/.*"pid" : \([0-9]*\).*/\1/p')
    printf '%-7s %-12s %-12s %s\n' TYPE "$1-INFRA" "$2" SAME
    for ns in ipc net uts pid mnt; do
        a=$(stat -L -c %i "/proc/$infra/ns/$ns"); b=$(stat -L -c %i "/proc/$pid/ns/$ns")
        printf '%-7s %-12s %-12s %s\n' "$ns" "$a" "$b" "$([[ $a == "$b" ]] && echo yes || echo no)"
    done
}

say "the counter's namespaces next to pod-a's infra"
ns_table pod-a counter

say "checkpoint the counter into an archive (the container stops)"
crpod checkpoint --export /tmp/crpod-demo/counter.tar.zst counter
crpod archive inspect /tmp/crpod-demo/counter.tar.zst | grep -v '^  .*checkpoint/'
last=$(crpod logs counter | tail -n 1)
echo "last line before the checkpoint: $last"

say "restore the archive into pod-b (a new name, so the archive could be restored again)"
crpod restore --import /tmp/crpod-demo/counter.tar.zst --pod pod-b --name counter-b
sleep 3
crpod ps
echo "the restored counter continues where it stopped:"
crpod logs counter-b | head -n 3

say "the restored counter's namespaces are pod-b's infra's"
ns_table pod-b counter-b

crpod rm -f counter counter-b

get() {  # get URL: the page, or "(no answer)"
    echo "+ curl $1" >&2
    curl -sS -m 2 "$1" 2>/dev/null || echo "(no answer)"
}
wait_for() {  # wait_for URL: until it answers (10 s)
    for _ in $(seq 50); do curl -fsS -m 1 "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "no answer from $1" >&2; return 1
}
pod_address() { crpod pod inspect "$1" --format json | sed -n 's/.*"address" : "\([0-9.]*\)\/.*/\1/p' | head -n 1; }

say "a web pod on the crpod CNI network, publishing host port $PORT to the pod's port 8080"
crpod pod create --network crpod --publish "$PORT:8080" --hostname web web
crpod run --name httpd --pod web --rootfs "$ROOTFS" -- sh -c \
    'mkdir -p /www && echo "hello from $(hostname), page written at $(date +%T)" > /www/index.html && exec httpd -f -p 8080 -h /www'
address=$(pod_address web)
crpod pod inspect web
wait_for "http://127.0.0.1:$PORT/"
get "http://127.0.0.1:$PORT/"
get "http://$address:8080/"

say "checkpoint the whole pod (one cut of every member, the network described), then remove it"
crpod pod checkpoint --export /tmp/crpod-demo/web.tar.zst web
crpod archive inspect /tmp/crpod-demo/web.tar.zst | grep -E '^(Pod|Network|Published|Members)|^  [a-z].*CRIU' || true
crpod pod rm -f web
get "http://127.0.0.1:$PORT/"

say "restore the whole pod: the same address, MAC and published port; the same URL answers"
crpod pod restore --import /tmp/crpod-demo/web.tar.zst
crpod pod ls
echo "address before: $address, after: $(pod_address web)"
wait_for "http://127.0.0.1:$PORT/"
get "http://127.0.0.1:$PORT/"
get "http://$address:8080/"

say "clean up"
if (( keep )); then
    echo "pods left running; clean up with: CRPOD_ROOT=$CRPOD_ROOT CRPOD_RUNROOT=$CRPOD_RUNROOT .build/debug/crpod pod rm -f pod-a pod-b web"
fi
