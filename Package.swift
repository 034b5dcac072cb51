// swift-tools-version: 6.2
import PackageDescription

// Targets point downward: CrpodCore (pure: vocabularies, domain rules; depends on nothing) and
// CShims at the bottom → CrpodLinux (syscalls; adds kernel facts such as clone flags to Core's
// namespace table) → CrpodArchive / CrpodDrivers → CrpodEngine → CrpodService (API, daemon) → crpod (CLI).
let package = Package(
    name: "crpod",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "crpod", targets: ["crpod"]),
        .executable(name: "crpod-pause", targets: ["crpod-pause"]),
        .executable(name: "crpod-logger", targets: ["crpod-logger"]),
        .executable(name: "crpod-sockprobe", targets: ["crpod-sockprobe"]),
        .executable(name: "crpod-shmattach", targets: ["crpod-shmattach"]),
        // Libraries for the fuzz package (Fuzz/), which builds them with -sanitize=fuzzer.
        .library(name: "CrpodCore", targets: ["CrpodCore"]),
        .library(name: "CrpodLinux", targets: ["CrpodLinux"]),
        .library(name: "CrpodArchive", targets: ["CrpodArchive"]),
    ],
    // `Registry` (default): the registry client (image pull/push, login, restore --image's
    // pull) on async-http-client. `contrib/build-static.sh --without-registry` builds without
    // it (--disable-default-traits): async-http-client (BoringSSL, NIOHTTP2, …) is not linked,
    // and those commands refuse with a clear error (Sources/CrpodRegistry/RegistryClient+Absent.swift).
    traits: [
        .trait(name: "Registry", description: "The OCI registry client: image pull/push, login, restore --image pulls."),
        .default(enabledTraits: ["Registry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
    ],
    targets: [
        .target(
            name: "CShims",
            path: "CShims",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [
                .linkedLibrary("selinux"), .linkedLibrary("cap"), .linkedLibrary("systemd"),
                .linkedLibrary("archive"), .linkedLibrary("nettle"),
            ]
        ),
        .executableTarget(name: "crpod-pause", path: "Sources/crpod-pause", cSettings: [.define("_GNU_SOURCE")]),
        .executableTarget(name: "crpod-logger", path: "Sources/crpod-logger", cSettings: [.define("_GNU_SOURCE")]),
        .executableTarget(name: "crpod-sockprobe", path: "Sources/crpod-sockprobe", cSettings: [.define("_GNU_SOURCE")]),
        .executableTarget(name: "crpod-shmattach", path: "Sources/crpod-shmattach", cSettings: [.define("_GNU_SOURCE")]),
        .target(
            name: "CrpodLinux",
            dependencies: ["CShims", "CrpodCore", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .target(name: "CrpodCore"),
        .target(
            name: "CrpodArchive",
            dependencies: ["CShims", "CrpodLinux", "CrpodCore", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .target(
            name: "CrpodDrivers",
            dependencies: [
                "CrpodLinux", "CrpodCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CrpodRegistry",
            dependencies: [
                "CrpodCore", "CrpodArchive", "CrpodLinux",
                .product(name: "AsyncHTTPClient", package: "async-http-client", condition: .when(traits: ["Registry"])),
                .product(name: "NIOSSL", package: "swift-nio-ssl", condition: .when(traits: ["Registry"])),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CrpodEngine",
            dependencies: [
                "CrpodLinux", "CrpodCore", "CrpodDrivers", "CrpodArchive", "CrpodRegistry",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CrpodService",
            dependencies: [
                "CrpodEngine", "CrpodLinux", "CrpodCore", "CrpodArchive", "CrpodRegistry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "crpod",
            dependencies: [
                "CrpodService", "CrpodEngine", "CrpodDrivers", "CrpodCore", "CrpodLinux", "CrpodRegistry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CrpodLinuxTests", dependencies: ["CrpodLinux", "CrpodCore"]),
        .testTarget(name: "CrpodCoreTests", dependencies: ["CrpodCore"]),
        .testTarget(name: "CrpodArchiveTests", dependencies: ["CrpodArchive", "CrpodCore", "CrpodLinux"]),
        .testTarget(name: "CrpodDriversTests", dependencies: ["CrpodDrivers"]),
        .testTarget(name: "CrpodRegistryTests", dependencies: ["CrpodRegistry", "CrpodCore", "CrpodLinux"]),
        .testTarget(name: "CrpodEngineTests", dependencies: ["CrpodEngine", "CrpodLinux", "CrpodCore", "CrpodRegistry"]),
        .testTarget(
            name: "CrpodIntegrationTests",
            dependencies: ["CrpodEngine", "CrpodLinux", "CrpodDrivers", "CrpodArchive", "CrpodService"]
        ),
        .testTarget(name: "CrpodServiceTests", dependencies: ["CrpodService", "CrpodEngine", "CrpodLinux", "CrpodCore", "CrpodArchive"]),
    ],
    swiftLanguageModes: [.v6]
)
