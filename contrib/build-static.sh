#!/usr/bin/env bash
# contrib/build-static.sh - the appliance build of crpod and its helpers: release, Swift
# standard library and Foundation(Essentials) linked in statically (the C libraries stay
# dynamic), tuned for size. Measured in BENCHMARKS.md "Appliance footprint (issue 14)".
#
# Usage (from anywhere):
#   contrib/build-static.sh [--without-registry] [--scratch-path DIR] [--show-bin-path]
#     --without-registry  the lean appliance build: the package trait Registry off
#                         (--disable-default-traits), so async-http-client (BoringSSL, NIOHTTP2,
#                         swift-algorithms, swift-configuration) is not linked; image pull,
#                         image push, login and restore --image of an image not in the store
#                         refuse with "built without registry support". Restore on boot, spool,
#                         API restores, image import, run --image, checkpoint --create-image and
#                         restore --image of a stored image work. Default scratch path
#                         <repo>/.build-static-lean. Without it the build is complete.
#     --scratch-path DIR  SwiftPM's build directory (default <repo>/.build-static; switching
#                         flags in one directory rebuilds everything, so keep one per recipe)
#     --show-bin-path     print the directory holding the binaries and build nothing
#
# The flags, each measured (none changes behaviour; restore latency unchanged):
#   -Xswiftc -Osize                  size-optimised Swift for crpod and its packages (the
#                                    prebuilt stdlib/Foundation are as shipped): -1.2 MB
#   -Xlinker --no-export-dynamic     undoes the toolchain's -export-dynamic: nothing looks up
#                                    crpod's own symbols at run time (the static libraries'
#                                    are hidden by --exclude-libs anyway): -1.8 MB, -0.5 MiB RSS
#   -Xswiftc -Xfrontend -Xswiftc -function-sections
#                                    one ELF section per Swift function (as the prebuilt
#                                    stdlib has), so the linker's --gc-sections drops unused
#                                    ones of crpod and its packages too: -0.8 MB
#   -Xlinker --icf=safe              folds identical functions whose address is never taken
#                                    (gold and lld both have it): -0.3 MB
# Debug builds and `swift test` are unaffected: the flags live here, not in Package.swift.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

scratch= show=0 traits=()
while (( $# )); do
    case "$1" in
        --without-registry) traits=(--disable-default-traits); shift ;;
        --scratch-path) scratch=$2; shift 2 ;;
        --show-bin-path) show=1; shift ;;
        -h|--help) sed -n '2,/^set -Eeuo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-static.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [[ -z $scratch ]]; then
    scratch=.build-static${traits:+-lean}
fi
flags=(-c release --static-swift-stdlib --scratch-path "$scratch" "${traits[@]}"
       -Xswiftc -Osize -Xswiftc -Xfrontend -Xswiftc -function-sections
       -Xlinker --no-export-dynamic -Xlinker --icf=safe)
if (( show )); then
    swift build "${flags[@]}" --show-bin-path
    exit 0
fi
swift build "${flags[@]}" >&2
bin=$(swift build "${flags[@]}" --show-bin-path)
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin/crpod"
echo "build-static.sh: $bin/crpod: $(stat -c %s "$stripped") bytes stripped" >&2
