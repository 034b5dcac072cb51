#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Media types crpod reads (OCI image spec 1.1 and Docker's schema 2, which `docker save`,
/// `podman save` and older registries use).
public enum OCIMediaType {
    public static let index = "application/vnd.oci.image.index.v1+json"
    public static let manifest = "application/vnd.oci.image.manifest.v1+json"
    public static let config = "application/vnd.oci.image.config.v1+json"
    public static let layerTar = "application/vnd.oci.image.layer.v1.tar"
    public static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let layerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar"

    public static let indexes: Set<String> = [index, dockerManifestList]
    public static let manifests: Set<String> = [manifest, dockerManifest]
    public static let configs: Set<String> = [config, dockerConfig]
    /// Layers libarchive unpacks (it detects the compression itself).
    public static let layers: Set<String> = [layerTar, layerGzip, layerZstd, dockerLayerGzip, dockerLayerTar]
}

/// The OCI layout's `oci-layout` file and annotation keys.
public enum OCILayout {
    public static let layoutFile = "oci-layout"
    public static let indexFile = "index.json"
    public static let blobsDirectory = "blobs/sha256"
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    /// containerd's full reference annotation (docker save ≥ 25 writes it).
    public static let containerdNameAnnotation = "io.containerd.image.name"
    /// The docker-save archive's list of images.
    public static let dockerManifestFile = "manifest.json"

    /// `blobs/sha256/<hex>`: where a layout keeps a blob.
    public static func blobPath(_ digest: ImageDigest) -> String { blobsDirectory + "/" + digest.hex }
}

public struct OCIPlatform: Sendable, Codable, Equatable {
    public var architecture: String
    public var os: String
    public var variant: String?

    public init(architecture: String, os: String, variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
    }
}

public struct OCIDescriptor: Sendable, Codable, Equatable {
    public var mediaType: String
    public var digest: ImageDigest
    public var size: Int64
    public var annotations: [String: String]?
    public var platform: OCIPlatform?

    public init(mediaType: String, digest: ImageDigest, size: Int64, annotations: [String: String]? = nil, platform: OCIPlatform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}

public struct OCIIndex: Sendable, Codable, Equatable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var manifests: [OCIDescriptor]

    public init(manifests: [OCIDescriptor]) {
        schemaVersion = 2
        mediaType = OCIMediaType.index
        self.manifests = manifests
    }
}

public struct OCIManifest: Sendable, Codable, Equatable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var config: OCIDescriptor
    public var layers: [OCIDescriptor]
    /// Checkpoint images carry podman's and CRI-O's keys here (`CheckpointImage`).
    public var annotations: [String: String]?

    public init(config: OCIDescriptor, layers: [OCIDescriptor], annotations: [String: String]? = nil) {
        schemaVersion = 2
        mediaType = OCIMediaType.manifest
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// The parts of an image configuration crpod uses; other fields are ignored (the blob
/// itself is kept byte for byte).
public struct OCIImageConfig: Sendable, Codable, Equatable {
    public struct RunConfig: Sendable, Codable, Equatable {
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var WorkingDir: String?
        public var User: String?
    }

    public struct RootFS: Sendable, Codable, Equatable {
        public var type: String
        public var diff_ids: [ImageDigest]

        public init(type: String = "layers", diff_ids: [ImageDigest]) {
            self.type = type
            self.diff_ids = diff_ids
        }
    }

    public var architecture: String?
    public var os: String?
    public var created: String?
    public var config: RunConfig?
    public var rootfs: RootFS

    public init(architecture: String?, os: String?, created: String?, config: RunConfig? = nil, rootfs: RootFS) {
        self.architecture = architecture
        self.os = os
        self.created = created
        self.config = config
        self.rootfs = rootfs
    }
}

/// One image of a `docker save` / `podman save` archive's `manifest.json`.
public struct DockerSaveEntry: Sendable, Codable, Equatable {
    public var Config: String
    public var RepoTags: [String]?
    public var Layers: [String]
}

/// Decoding the image documents, every failure as `CoreError.invalidImage` naming the source.
public enum OCIDocuments {
    /// Upper bound on one JSON document (index, manifest, config).
    public static let maxDocumentBytes = 4 << 20
    /// Upper bound on layers per image (the Docker limit is 127 for overlay stacking).
    public static let maxLayers = 128

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], source: String) throws(CoreError) -> T {
        guard bytes.count <= maxDocumentBytes else { throw CoreError.invalidImage(source: source, reason: "larger than \(maxDocumentBytes) bytes") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw CoreError.invalidImage(source: source, reason: "not a valid \(T.self) document: \(Self.describe(error))")
        }
    }

    public static func encode<T: Encodable>(_ value: T) throws(CoreError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(value)) } catch { throw CoreError.jsonEncodingFailed(detail: "\(error)") }
    }

    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case let .keyNotFound(key, context)?:
            return "missing \(path(context.codingPath + [key]))"
        case let .typeMismatch(_, context)?, let .valueNotFound(_, context)?, let .dataCorrupted(context)?:
            return "\(path(context.codingPath)): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "document" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
