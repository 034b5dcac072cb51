// swift-tools-version: 6.2
import PackageDescription

// libFuzzer targets for crpod's hostile-input parsers. A separate package, so the main build
// never sees -sanitize=fuzzer. Build and run with contrib/fuzz.sh; the build command is:
//   swift build --package-path Fuzz --scratch-path .build-fuzz -c debug \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
// Each executable defines LLVMFuzzerTestOneInput; libFuzzer supplies main().
let crpod = "crpod"

let package = Package(
    name: "crpod-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: crpod, path: ".."),
    ],
    targets: [
        // Enters libFuzzer from `<module>_main` (see its header for why).
        .target(name: "CFuzzerDriver", path: "Sources/CFuzzerDriver"),
        // Helpers shared by the targets: temp directories, property checks.
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"], path: "Sources/FuzzSupport"),
        .executableTarget(
            name: "fuzz-archive",
            dependencies: [
                "FuzzSupport",
                .product(name: "CrpodArchive", package: crpod),
                .product(name: "CrpodCore", package: crpod),
                .product(name: "CrpodLinux", package: crpod),
            ],
            path: "Sources/fuzz-archive"
        ),
        .executableTarget(
            name: "fuzz-validator",
            dependencies: ["FuzzSupport", .product(name: "CrpodCore", package: crpod)],
            path: "Sources/fuzz-validator"
        ),
        .executableTarget(
            name: "fuzz-images",
            dependencies: ["FuzzSupport", .product(name: "CrpodCore", package: crpod)],
            path: "Sources/fuzz-images"
        ),
        .executableTarget(
            name: "fuzz-spec",
            dependencies: ["FuzzSupport", .product(name: "CrpodCore", package: crpod)],
            path: "Sources/fuzz-spec"
        ),
        .executableTarget(
            name: "fuzz-proc",
            dependencies: ["FuzzSupport", .product(name: "CrpodLinux", package: crpod)],
            path: "Sources/fuzz-proc"
        ),
    ],
    swiftLanguageModes: [.v6]
)
