#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux

/// An image in crpod's store.
public struct ImageRecord: Codable, Sendable, Equatable {
    /// The config blob's digest: the image ID (`podman images` shows its first 12 digits).
    public var id: ImageDigest
    public var manifest: ImageDigest
    /// References it answers to (`name:tag`); may be empty (then only the ID names it).
    public var names: [String]
    /// Layer blob digests, bottom first.
    public var layers: [ImageDigest]
    public var diffIDs: [ImageDigest]
    /// Hex SHA-256 of the layer digests: the unpacked tree `rootfs/<key>`.
    public var rootfsKey: String
    /// Sum of the layer blobs' sizes.
    public var size: Int64
    public var imported: String
    public var architecture: String?
    public var os: String?
    public var runConfig: OCIImageConfig.RunConfig?
    /// The manifest's annotations (a checkpoint image's podman and CRI-O keys).
    public var annotations: [String: String]? = nil

    /// The checkpointed container's name when this is a checkpoint image (`CheckpointImage`).
    public var checkpointName: String? { CheckpointImage.containerName(annotations) }
}

/// The image store under the crpod root, content-addressed and changed only under the
/// engine's state lock:
///
///     <root>/images/images.json               the name index ([ImageRecord], written atomically)
///     <root>/images/blobs/sha256/<hex>        manifests, configs and layers, verified by digest
///     <root>/images/rootfs/<key>/             layers unpacked once per layer stack (the overlay's lower;
///                                             none for a checkpoint image: its layer is an archive)
///     <root>/images/builds/                   checkpoint images being written (outside the lock)
///     <root>/images/tmp/                      staging; whatever is here under the lock is stale
///     <root>/images/pulls/pull-X/             a pull's download (outside the lock), with its lease
///                                             pull-X.lease; one whose lease is free is stale
public struct ImageStore: Sendable {
    public let directory: String

    public init(root: String) {
        directory = root + "/images"
    }

    var indexPath: String { directory + "/images.json" }
    var blobsDirectory: String { directory + "/" + OCILayout.blobsDirectory }
    var rootfsDirectory: String { directory + "/rootfs" }
    var temporaryDirectory: String { directory + "/tmp" }
    var pullsDirectory: String { directory + "/pulls" }

    public func blobPath(_ digest: ImageDigest) -> String { blobsDirectory + "/" + digest.hex }
    public func rootfsPath(_ record: ImageRecord) -> String { rootfsDirectory + "/" + record.rootfsKey }

    /// Whether `path` is an unpacked image tree of this store (the policy allows those).
    public func holds(rootfs path: String) -> Bool {
        path.hasPrefix(rootfsDirectory + "/") && !path.dropFirst(rootfsDirectory.count + 1).contains("/")
    }

    public func ensureLayout() throws {
        try step("create image store directories under \(directory)") {
            for dir in [directory, blobsDirectory, rootfsDirectory, temporaryDirectory] { try Files.makeDirectories(dir, mode: 0o700) }
        }
    }

    public func records() throws -> [ImageRecord] {
        guard Files.exists(indexPath) else { return [] }
        return try step("read \(indexPath)") {
            try JSONDecoder().decode([ImageRecord].self, from: Data(try Files.read(indexPath)))
        }
    }

    func save(_ records: [ImageRecord]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try step("write \(indexPath)") { try Files.writeAtomically(indexPath, Array(try encoder.encode(records)), mode: 0o600) }
    }

    /// The image `reference` names: an ID (full `sha256:` digest or a hex prefix of at least
    /// 4 digits) or a name (`name[:tag][@digest]`, tag `latest` by default).
    public func find(_ reference: String, in records: [ImageRecord]) throws -> ImageRecord? {
        let hex = reference.hasPrefix("sha256:") ? String(reference.dropFirst(7)) : reference
        if (4...64).contains(hex.utf8.count), ImageDigest(hex: hex + String(repeating: "0", count: 64 - hex.utf8.count)) != nil {
            let byID = records.filter { $0.id.hex.hasPrefix(hex) }
            if byID.count > 1 { throw EngineError.ambiguousReference(kind: "image", reference: reference, matches: byID.map(\.id.short)) }
            if let found = byID.first { return found }
        }
        guard let wanted = try? ImageReference.parse(reference) else { return nil }
        return records.first { record in
            if let digest = wanted.digest, digest != record.manifest { return false }
            return record.names.contains { (try? ImageReference.parse($0))?.matches(wanted) == true }
        }
    }

    /// Removes blobs and unpacked trees no record refers to, and the staging directory.
    func collectGarbage(keeping records: [ImageRecord]) throws {
        let blobs = Set(records.flatMap { [$0.id.hex, $0.manifest.hex] + $0.layers.map(\.hex) })
        let trees = Set(records.map(\.rootfsKey))
        try step("remove unused image data under \(directory)") {
            for name in try listing(blobsDirectory) where !blobs.contains(name) { try Files.removeTree(blobsDirectory + "/" + name) }
            for name in try listing(rootfsDirectory) where !trees.contains(name) { try Files.removeTree(rootfsDirectory + "/" + name) }
            for name in try listing(temporaryDirectory) { try Files.removeTree(temporaryDirectory + "/" + name) }
        }
        try clearStalePulls()
    }

    /// Removes the downloads of pulls that died (kill -9): a live pull holds the lease beside
    /// its directory (`FileLease`, taken under the state lock together with the directory, as
    /// this runs), so a directory whose lease is free — or missing — belongs to nobody.
    func clearStalePulls() throws {
        try step("remove interrupted pulls under \(pullsDirectory)") {
            for name in try listing(pullsDirectory) {
                let path = pullsDirectory + "/" + name
                let lease = name.contains(".lease") ? path : path + ".lease"
                if !FileLease.isHeld(lease) { try Files.removeTree(path) }
            }
        }
    }

    /// A new pull's download directory and its lease (call under the state lock).
    func startPull() throws -> (directory: String, lease: FileLease) {
        try step("create pull directory") {
            try Files.makeDirectories(pullsDirectory, mode: 0o700)
            let directory = try Files.makeTemporaryDirectory(in: pullsDirectory, prefix: "pull-")
            do { return (directory, try FileLease.acquire(directory + ".lease")) } catch {
                try? Files.removeTree(directory)
                throw error
            }
        }
    }

    private func listing(_ path: String) throws -> [String] {
        Files.isDirectory(path) ? try Files.listDirectory(path) : []
    }
}
