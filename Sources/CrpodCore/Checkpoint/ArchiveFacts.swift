#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The kind of a tar member, as far as validation cares.
public enum ArchiveMemberType: String, Sendable, Codable, CaseIterable {
    case file, directory, symlink, hardlink
    /// Devices, FIFOs, sockets and anything else a checkpoint never holds.
    case other
}

/// One member of a checkpoint archive, in archive order.
public struct ArchiveMember: Sendable, Codable, Equatable {
    /// The name exactly as stored in the archive (not canonicalised).
    public var name: String
    public var size: Int64
    public var type: ArchiveMemberType
    /// The target of a symlink or hard link.
    public var linkTarget: String?
    /// Lowercase hex SHA-256 of a regular file's content, when the inspector computed it.
    public var sha256: String?
    /// For `other`: what the member was ("character device", "fifo"), for messages.
    public var typeDetail: String?

    public init(
        name: String, size: Int64 = 0, type: ArchiveMemberType, linkTarget: String? = nil,
        sha256: String? = nil, typeDetail: String? = nil
    ) {
        self.name = name
        self.size = size
        self.type = type
        self.linkTarget = linkTarget
        self.sha256 = sha256
        self.typeDetail = typeDetail
    }
}

/// How the archive stream was compressed; a string so unknown filters round-trip.
public struct ArchiveCompression: RawRepresentable, Sendable, Codable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let none = ArchiveCompression(rawValue: "none")
    public static let gzip = ArchiveCompression(rawValue: "gzip")
    public static let zstd = ArchiveCompression(rawValue: "zstd")
    public static let xz = ArchiveCompression(rawValue: "xz")
    public static let bzip2 = ArchiveCompression(rawValue: "bzip2")

    public var description: String { rawValue }
}

/// crpod's `crpod-manifest.json`: every regular file of the archive with its size and
/// SHA-256, written as the last member. Unknown keys are ignored.
public struct ArchiveManifestModel: Sendable, Codable, Equatable {
    public static let currentVersion = 1

    public struct Entry: Sendable, Codable, Equatable {
        public var name: String
        public var size: Int64
        /// Lowercase hex.
        public var sha256: String

        public init(name: String, size: Int64, sha256: String) {
            self.name = name
            self.size = size
            self.sha256 = sha256
        }
    }

    public var version: Int
    public var members: [Entry]

    public init(version: Int = ArchiveManifestModel.currentVersion, members: [Entry]) {
        self.version = version
        self.members = members
    }

    /// Parses the manifest; failures are `CoreError.invalidJSON` naming the member.
    public init(data: Data) throws {
        do {
            self = try JSONDecoder().decode(ArchiveManifestModel.self, from: data)
        } catch {
            throw CoreError.invalidJSON(context: CheckpointMember.manifest, detail: describeCodingError(error))
        }
    }

    /// Pretty, key-sorted JSON.
    public func data() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            return try encoder.encode(self)
        } catch {
            throw CoreError.jsonEncodingFailed(detail: describeCodingError(error))
        }
    }
}

/// Who wrote a checkpoint archive.
public enum ArchiveEngine: String, Sendable, Codable, CaseIterable {
    case crpod, podman, crio, unknown

    /// Spec annotation naming the container manager (`libpod`, `cri-o`).
    public static let managerAnnotation = "io.container.manager"
    /// Its value for archives in podman's (libpod's) format — crpod's exports too: other
    /// readers (checkpointctl picks its parser by it) then read config.dump as podman's.
    public static let podmanFormatManager = "libpod"
    public static let crioAnnotationPrefix = "io.kubernetes.cri-o."
    /// `config.dump` keys only libpod writes.
    static let podmanOnlyKeys = ["createNetNS", "lockID", "staticDir", "CreateCommand", "cgroupParent"]

    /// crpod when the config has a `crpod` section or the archive a manifest; CRI-O or
    /// podman by the spec's manager annotation; podman also by libpod-only config keys.
    public static func detect(config: CheckpointConfig?, spec: OCISpec?, memberNames: Set<String>) -> ArchiveEngine {
        if config?.hasCrpodSection == true || memberNames.contains(CheckpointMember.manifest) {
            return .crpod
        }
        let annotations = spec?.annotations ?? [:]
        // podman also writes io.kubernetes.cri-o.* annotations, so the manager annotation and
        // libpod-only config keys decide first; the CRI-O prefix alone means CRI-O.
        switch annotations[managerAnnotation] {
        case podmanFormatManager: return .podman
        case "cri-o": return .crio
        default: break
        }
        if podmanOnlyKeys.contains(where: { config?.json[$0] != nil }) { return .podman }
        if annotations.keys.contains(where: { $0.hasPrefix(crioAnnotationPrefix) }) { return .crio }
        return .unknown
    }
}

/// What an inspector learned from scanning an archive. Parse failures are kept as text
/// (`configError`, ...) so the validator can report them with everything else.
public struct ArchiveFacts: Sendable, Equatable, Codable {
    public var members: [ArchiveMember]
    public var compression: ArchiveCompression
    public var config: CheckpointConfig?
    public var configError: String?
    public var spec: OCISpec?
    public var specError: String?
    public var manifest: ArchiveManifestModel?
    public var manifestError: String?
    public var stats: CRIUStats?
    public var statsError: String?
    public var inventory: CRIUInventory?
    public var inventoryError: String?
    public var criuVersion: CRIULogVersion?

    public init(members: [ArchiveMember] = [], compression: ArchiveCompression = .none) {
        self.members = members
        self.compression = compression
    }

    /// The CRIU image format version from `inventory.img`.
    public var imageVersion: UInt32? { inventory?.imageVersion }

    public var engine: ArchiveEngine {
        ArchiveEngine.detect(config: config, spec: spec, memberNames: Set(members.map { CheckpointMember.canonical($0.name) }))
    }

    /// The first member whose canonical name is `name`.
    public func member(named name: String) -> ArchiveMember? {
        members.first { CheckpointMember.canonical($0.name) == name }
    }

    enum CodingKeys: String, CodingKey {
        case members, compression, config, configError, spec, specError, manifest, manifestError
        case stats, statsError, inventory, inventoryError, criuVersion
    }

    public init(from decoder: any Decoder) throws {
        let box = try decoder.container(keyedBy: CodingKeys.self)
        members = try box.decodeIfPresent([ArchiveMember].self, forKey: .members) ?? []
        compression = try box.decodeIfPresent(ArchiveCompression.self, forKey: .compression) ?? .none
        config = try box.decodeIfPresent(CheckpointConfig.self, forKey: .config)
        configError = try box.decodeIfPresent(String.self, forKey: .configError)
        spec = try box.decodeIfPresent(JSONValue.self, forKey: .spec).map(OCISpec.init(json:))
        specError = try box.decodeIfPresent(String.self, forKey: .specError)
        manifest = try box.decodeIfPresent(ArchiveManifestModel.self, forKey: .manifest)
        manifestError = try box.decodeIfPresent(String.self, forKey: .manifestError)
        stats = try box.decodeIfPresent(CRIUStats.self, forKey: .stats)
        statsError = try box.decodeIfPresent(String.self, forKey: .statsError)
        inventory = try box.decodeIfPresent(CRIUInventory.self, forKey: .inventory)
        inventoryError = try box.decodeIfPresent(String.self, forKey: .inventoryError)
        criuVersion = try box.decodeIfPresent(CRIULogVersion.self, forKey: .criuVersion)
    }

    public func encode(to encoder: any Encoder) throws {
        var box = encoder.container(keyedBy: CodingKeys.self)
        try box.encode(members, forKey: .members)
        try box.encode(compression, forKey: .compression)
        try box.encodeIfPresent(config, forKey: .config)
        try box.encodeIfPresent(configError, forKey: .configError)
        try box.encodeIfPresent(spec?.json, forKey: .spec)
        try box.encodeIfPresent(specError, forKey: .specError)
        try box.encodeIfPresent(manifest, forKey: .manifest)
        try box.encodeIfPresent(manifestError, forKey: .manifestError)
        try box.encodeIfPresent(stats, forKey: .stats)
        try box.encodeIfPresent(statsError, forKey: .statsError)
        try box.encodeIfPresent(inventory, forKey: .inventory)
        try box.encodeIfPresent(inventoryError, forKey: .inventoryError)
        try box.encodeIfPresent(criuVersion, forKey: .criuVersion)
    }
}

// MARK: - Recording member contents

extension ArchiveFacts {
    /// Parses `config.dump` bytes into `config`, or records why not in `configError`.
    public mutating func readConfig(_ data: Data) {
        record(&config, &configError) { try CheckpointConfig(data: data, context: CheckpointMember.config) }
    }

    public mutating func readSpec(_ data: Data) {
        record(&spec, &specError) { try OCISpec(data: data, context: CheckpointMember.spec) }
    }

    public mutating func readManifest(_ data: Data) {
        record(&manifest, &manifestError) { try ArchiveManifestModel(data: data) }
    }

    public mutating func readStats(_ bytes: [UInt8]) {
        record(&stats, &statsError) { try CRIUStatsDecoder.decodeStats(bytes) }
    }

    public mutating func readInventory(_ bytes: [UInt8]) {
        record(&inventory, &inventoryError) { try CRIUInventoryDecoder.decode(bytes) }
    }

    /// Takes the CRIU version from `checkpoint/dump.log` text (nil when not found).
    public mutating func readDumpLog(_ text: String) {
        criuVersion = CRIULogVersion.parse(text)
    }

    private func record<T>(_ value: inout T?, _ problem: inout String?, _ parse: () throws -> T) {
        do {
            value = try parse()
            problem = nil
        } catch {
            value = nil
            problem = String(describing: error)
        }
    }
}
