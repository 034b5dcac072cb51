import CrpodArchive
import CrpodCore
import CrpodEngine
import CrpodLinux
import CrpodRegistry

/// What the CLI's image commands (and `checkpoint --create-image`, `restore --image`) ask of
/// crpod, locally or through the daemon.
public protocol CrpodImageClient: Sendable {
    func listImages() async throws -> [ImageRecord]
    func inspectImage(_ reference: String) async throws -> ImageDetails
    func removeImage(_ reference: String) async throws -> ImageRecord
    func importImage(_ call: ImageImportCall) async throws -> ImageRecord
    func pullImage(_ call: ImagePullCall) async throws -> ImageRecord
    func checkpointToImage(_ container: String, _ call: ImageCheckpointCall) async throws -> ImageCheckpointOutcome
    func restoreImage(_ call: ImageRestoreCall) async throws -> RestoreOutcome
}

/// `crpod image inspect`, `GET /v1/images/REF`: the record, with the path of its unpacked tree
/// (none for a checkpoint image, whose annotations name its container).
public struct ImageDetails: Codable, Sendable, Equatable {
    public var image: ImageRecord
    public var rootfs: String?
    public var checkpointOf: String?
}

/// `POST /v1/images/import`: a tar (OCI layout or docker/podman save) under an API directory.
public struct ImageImportCall: Codable, Sendable {
    public var path: String
    public var name: String?
    public init(path: String, name: String?) {
        self.path = path
        self.name = name
    }
}

/// `POST /v1/images/pull`.
public struct ImagePullCall: Codable, Sendable {
    public var reference: String
    public var tlsVerify: Bool?
    /// Bytes of each blob as they arrive (local only: the CLI's progress on a TTY).
    public var progress: BlobProgress?
    /// `--creds`/`--authfile` (local only: the daemon uses its own authfile, never the caller's).
    public var auth: RegistryAuth?
    enum CodingKeys: String, CodingKey { case reference, tlsVerify }

    public init(reference: String, tlsVerify: Bool?, auth: RegistryAuth? = nil, progress: BlobProgress? = nil) {
        self.reference = reference
        self.tlsVerify = tlsVerify
        self.auth = auth
        self.progress = progress
    }
}

/// `POST /v1/containers/NAME/checkpoint`: the checkpoint request's fields, and `createImage`.
public struct ImageCheckpointCall: Codable, Sendable {
    public var createImage: String?
    public var request: CheckpointRequest
    enum CodingKeys: String, CodingKey { case createImage }

    public init(createImage: String?, request: CheckpointRequest) {
        self.createImage = createImage
        self.request = request
    }

    public init(from decoder: any Decoder) throws {
        request = try CheckpointRequest(from: decoder)
        createImage = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .createImage)
    }

    public func encode(to encoder: any Encoder) throws {
        try request.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(createImage, forKey: .createImage)
    }
}

/// What `checkpoint --create-image` answers: the checkpoint and the image it became.
public struct ImageCheckpointOutcome: Codable, Sendable {
    public var checkpoint: CheckpointOutcome
    public var image: ImageRecord
}

/// `POST /v1/restore` with `image` (and `tlsVerify`) beside the restore request's fields.
public struct ImageRestoreCall: Codable, Sendable {
    public var image: String?
    public var tlsVerify: Bool?
    public var request: RestoreRequest
    /// `--creds`/`--authfile` (local only, like `ImagePullCall.auth`).
    public var auth: RegistryAuth?
    enum CodingKeys: String, CodingKey { case image, tlsVerify }

    public init(image: String, tlsVerify: Bool?, auth: RegistryAuth? = nil, request: RestoreRequest) {
        self.image = image
        self.tlsVerify = tlsVerify
        self.auth = auth
        self.request = request
    }

    public init(from decoder: any Decoder) throws {
        request = try RestoreRequest(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        image = try container.decodeIfPresent(String.self, forKey: .image)
        tlsVerify = try container.decodeIfPresent(Bool.self, forKey: .tlsVerify)
    }

    public func encode(to encoder: any Encoder) throws {
        try request.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(image, forKey: .image)
        try container.encodeIfPresent(tlsVerify, forKey: .tlsVerify)
    }
}

extension LocalClient {
    public func listImages() async throws -> [ImageRecord] { try await engine.listImages() }

    public func inspectImage(_ reference: String) async throws -> ImageDetails {
        let record = try engine.image(reference)
        let rootfs = record.checkpointName == nil ? engine.images.rootfsPath(record) : nil
        return ImageDetails(image: record, rootfs: rootfs, checkpointOf: record.checkpointName)
    }

    public func removeImage(_ reference: String) async throws -> ImageRecord { try await engine.removeImage(reference) }
    public func importImage(_ call: ImageImportCall) async throws -> ImageRecord { try await engine.importImage(path: call.path, name: call.name) }

    /// The API's import: the tar already opened (and confined) by the router.
    func importImage(_ call: ImageImportCall, file: OpenedFile) async throws -> ImageRecord {
        try await engine.importImage(path: call.path, name: call.name, file: file)
    }

    public func pullImage(_ call: ImagePullCall) async throws -> ImageRecord {
        try await engine.pullImage(call.reference, tlsVerify: call.tlsVerify, auth: call.auth ?? RegistryAuth(), progress: call.progress)
    }

    public func checkpointToImage(_ container: String, _ call: ImageCheckpointCall) async throws -> ImageCheckpointOutcome {
        let (outcome, image) = try await engine.checkpointToImage(container, reference: call.createImage ?? "", request: call.request)
        return ImageCheckpointOutcome(checkpoint: outcome, image: image)
    }

    public func restoreImage(_ call: ImageRestoreCall) async throws -> RestoreOutcome {
        try await engine.restoreFromImage(call.image ?? "", tlsVerify: call.tlsVerify, auth: call.auth ?? RegistryAuth(), request: call.request)
    }
}

extension RemoteClient {
    public func listImages() async throws -> [ImageRecord] { try await get("/v1/images") }
    public func inspectImage(_ reference: String) async throws -> ImageDetails { try await get("/v1/images/" + Self.escaped(reference)) }
    public func removeImage(_ reference: String) async throws -> ImageRecord {
        try await send("DELETE", "/v1/images/" + Self.escaped(reference), Optional<String>.none)
    }
    public func importImage(_ call: ImageImportCall) async throws -> ImageRecord { try await send("POST", "/v1/images/import", call) }
    public func pullImage(_ call: ImagePullCall) async throws -> ImageRecord { try await send("POST", "/v1/images/pull", call) }
    public func checkpointToImage(_ container: String, _ call: ImageCheckpointCall) async throws -> ImageCheckpointOutcome {
        try await send("POST", "/v1/containers/\(Self.escaped(container))/checkpoint", call)
    }
    public func restoreImage(_ call: ImageRestoreCall) async throws -> RestoreOutcome { try await send("POST", "/v1/restore", call) }
}
