#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux
import CrpodRegistry

extension Engine {
    /// `crpod checkpoint NAME --create-image REF`: the container is checkpointed into an
    /// uncompressed archive under `<root>/images/builds/`, which becomes the one layer of a
    /// checkpoint image (podman's and CRI-O's format, `CheckpointImage`) imported into the
    /// store under `reference`, so `crpod image push` sends it unchanged. The build directory
    /// goes afterwards; when the image cannot be made after the checkpoint succeeded, the
    /// archive stays there and the error names it (the container was checkpointed: stopped
    /// unless `leaveRunning`), so nothing is lost.
    public func checkpointToImage(_ container: String, reference: String, request: CheckpointRequest) async throws -> (CheckpointOutcome, ImageRecord) {
        _ = try ImageReference.parse(reference)
        let build = try step("create checkpoint image directory") { try Files.makeTemporaryDirectory(in: images.directory + "/builds", prefix: "build-") }
        var request = request
        request.export = build + "/checkpoint.tar"
        request.compression = CompressionMethod.none
        let outcome: CheckpointOutcome
        do {
            guard let first = try await checkpoint([container], request).first else {
                throw EngineError.invalidInput(what: "container", detail: "\(container) was not checkpointed")
            }
            outcome = first
        } catch {
            try? Files.removeTree(build)
            throw error
        }
        let layout = build + "/layout"
        let record: ImageRecord
        do {
            try await BlockingThread.run("write checkpoint image layout \(layout)") { _ in
                try CheckpointImageLayout(archive: build + "/checkpoint.tar", directory: layout).write(reference: reference, created: timestamp())
            }
            record = try await importImage(path: layout, name: reference)
        } catch {
            // The container is checkpointed (and stopped unless leaveRunning): its archive stays.
            try? Files.removeTree(layout)
            throw EngineError.step("create checkpoint image \(reference); the checkpoint archive is kept at \(request.export ?? build)", cause: error)
        }
        try? Files.removeTree(build)
        return (outcome, record)
    }

    /// `crpod restore --image REF`: the checkpoint image from the store, else pulled; refused
    /// unless it is a checkpoint image with one layer. Its layer (verified by digest when it
    /// was stored) is then restored exactly like `--import FILE`: the same scan, validation,
    /// image rule and policy, streamed, sizes not trusted.
    public func restoreFromImage(_ reference: String, tlsVerify: Bool?, auth: RegistryAuth = RegistryAuth(), request: RestoreRequest) async throws -> RestoreOutcome {
        let store = images
        var found = try store.find(reference, in: try store.records())
        if found == nil {
            try RegistryError.requireClient(for: "restore --image \(reference) (not in the image store, so it would be pulled)")
            found = try await pullImage(reference, tlsVerify: tlsVerify, auth: auth)
        }
        guard let record = found else { throw EngineError.imageNotFound(reference: reference, context: "restore --image") }
        guard record.checkpointName != nil else {
            throw EngineError.invalidInput(what: "restore --image", detail: "\(reference) is not a checkpoint image: its manifest has no \(CheckpointImage.podmanName) or \(CheckpointImage.crioName) annotation")
        }
        guard record.layers.count == 1, let layer = record.layers.first else {
            throw EngineError.invalidInput(what: "restore --image", detail: "\(reference) has \(record.layers.count) layers; a checkpoint image has one")
        }
        var request = request
        request.importPath = store.blobPath(layer)
        return try await restore(request)
    }
}

/// The OCI layout of a checkpoint image, written from an uncompressed checkpoint archive
/// (blocking).
struct CheckpointImageLayout {
    let archive: String
    let directory: String

    func write(reference: String, created: String) throws {
        let blobs = directory + "/" + OCILayout.blobsDirectory
        try step("create \(blobs)") { try Files.makeDirectories(blobs, mode: 0o700) }
        let (inspection, facts) = try ArchiveInspector.inspect(path: archive)
        let layer = try storeBlob(file: archive, in: blobs)
        let config = OCIImageConfig(architecture: ImageSource.hostPlatform.architecture, os: ImageSource.hostPlatform.os, created: created,
                                    rootfs: .init(diff_ids: [layer.digest]))
        let configDescriptor = try storeBlob(bytes: try OCIDocuments.encode(config), mediaType: OCIMediaType.config, in: blobs)
        let annotations = CheckpointImage.annotations(.init(
            name: inspection.containerName ?? inspection.containerID ?? "container",
            rootfsImageName: facts.config?.rootfsImageName, rootfsImageID: facts.config?.rootfsImageID,
            runtimeName: inspection.runtime, runtimeVersion: facts.config?.crpod?.runtimeVersion, criuVersion: inspection.criuVersion))
        let manifest = OCIManifest(config: configDescriptor, layers: [layer], annotations: annotations)
        let manifestDescriptor = try storeBlob(bytes: try OCIDocuments.encode(manifest), mediaType: OCIMediaType.manifest, in: blobs)
        var indexEntry = manifestDescriptor
        indexEntry.annotations = [OCILayout.refNameAnnotation: reference]
        try step("write \(directory)/\(OCILayout.indexFile)") {
            try Files.writeAtomically(directory + "/" + OCILayout.indexFile, try OCIDocuments.encode(OCIIndex(manifests: [indexEntry])), mode: 0o600)
            try Files.writeAtomically(directory + "/" + OCILayout.layoutFile, Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), mode: 0o600)
        }
    }

    /// The archive as the layer: copied into the layout while hashed.
    private func storeBlob(file: String, in blobs: String) throws -> OCIDescriptor {
        let temporary = blobs + "/layer.tmp"
        let (hex, size) = try step("hash checkpoint archive \(file)") { try BlobFile.copy(from: file, to: temporary) }
        guard let digest = ImageDigest(hex: hex) else { throw EngineError.invalidInput(what: "digest", detail: hex) }
        _ = try step("store layer \(digest)") { try sysCall("rename", path: blobs + "/" + hex) { rename(temporary, blobs + "/" + hex) } }
        return OCIDescriptor(mediaType: OCIMediaType.layerTar, digest: digest, size: Int64(size))
    }

    private func storeBlob(bytes: [UInt8], mediaType: String, in blobs: String) throws -> OCIDescriptor {
        let hex = try step("hash \(mediaType)") { try SHA256Hasher.hash(bytes) }
        guard let digest = ImageDigest(hex: hex) else { throw EngineError.invalidInput(what: "digest", detail: hex) }
        try step("write blob \(digest)") { try Files.writeAtomically(blobs + "/" + hex, bytes, mode: 0o600) }
        return OCIDescriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }
}
