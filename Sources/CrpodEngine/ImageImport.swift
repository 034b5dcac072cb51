#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux

extension Engine {
    public var images: ImageStore { ImageStore(root: settings.root) }

    /// `crpod image import`: an OCI layout directory, or a tar of one or of a docker-save
    /// tree. Every blob is verified by digest (and every layer's decompressed stream by its
    /// diff ID) while it is copied into the store; the layers are unpacked once per layer
    /// stack. Everything happens in the store's staging directory under the state lock and
    /// is renamed into place at the end, so a failure (or kill -9) leaves only staging,
    /// which the next image operation clears. `file`: the tar at `path`, already opened and
    /// confined by the caller (the daemon's API), read through that fd only.
    public func importImage(path: String, name: String?, file: OpenedFile? = nil) async throws -> ImageRecord {
        if let name { _ = try ImageReference.parse(name) }
        let store = images
        return try await locked {
            try store.ensureLayout()
            try store.collectGarbage(keeping: try store.records())
            let staging = try step("create staging directory") { try Files.makeTemporaryDirectory(in: store.temporaryDirectory, prefix: "import-") }
            defer { try? Files.removeTree(staging) }
            let imported = timestamp()
            let record: ImageRecord
            do {
                record = try await BlockingThread.run("import image \(path)") { _ in
                    try ImageImporter(store: store, staging: staging, file: file).run(source: path, name: name, imported: imported)
                }
            } catch {
                try? Files.removeTree(staging)
                try? store.collectGarbage(keeping: try store.records())  // the refused image's blobs
                throw error
            }
            var records = try store.records().filter { $0.id != record.id }
            let existing = try store.records().first { $0.id == record.id }
            var merged = record
            merged.names = (existing?.names ?? []).filter { !record.names.contains($0) } + record.names
            for index in records.indices { records[index].names.removeAll { merged.names.contains($0) } }  // a name moves
            records.append(merged)
            try store.save(records)
            logger.info("image imported", metadata: ["image": "\(merged.id.short)", "path": "\(path)"])
            return merged
        }
    }

    public func listImages() async throws -> [ImageRecord] {
        try images.records()
    }

    /// The stored image a reference names, or `imageNotFound`.
    public func image(_ reference: String, context: String? = nil) throws -> ImageRecord {
        let store = images
        guard let record = try store.find(reference, in: try store.records()) else {
            throw EngineError.imageNotFound(reference: reference, context: context)
        }
        return record
    }

    /// `crpod image rm`: refused while a container's overlay uses the image's tree; its blobs
    /// and tree go when no other image shares them.
    public func removeImage(_ reference: String) async throws -> ImageRecord {
        let store = images
        return try await locked {
            let record = try image(reference)
            let tree = store.rootfsPath(record)
            let users = try store.records().filter { $0.rootfsKey == record.rootfsKey }.count > 1 ? [] :
                try self.store.containers().filter { $0.rootfs == tree }.map(\.name)
            if !users.isEmpty { throw EngineError.imageInUse(image: reference, containers: users) }
            let remaining = try store.records().filter { $0.id != record.id }
            try store.save(remaining)
            try store.collectGarbage(keeping: remaining)
            return record
        }
    }
}

/// One import's blocking work, in a staging directory of the store.
struct ImageImporter {
    let store: ImageStore
    let staging: String
    var file: OpenedFile? = nil

    func run(source: String, name: String?, imported: String) throws -> ImageRecord {
        var image = try ImageSource.read(try sourceTree(source), name: name)
        let layers = try ingestLayers(&image)
        let config = try ingest(image.configFile, expected: image.manifest.config.digest, what: "config")
        let manifestBytes = try image.manifestBytes ?? OCIDocuments.encode(image.manifest)
        let manifest = try ingest(bytes: manifestBytes)
        let key = try step("hash the layer stack") { try SHA256Hasher.hash(Array(ImageSelection.layerStackText(layers).utf8)) }
        let annotations = image.manifest.annotations
        if CheckpointImage.containerName(annotations) == nil { try unpack(layers, key: key) }  // a checkpoint layer is restored, never a rootfs
        let names = try ImageSelection.names(given: name, recorded: image.recordedNames, source: source).map(\.description)
        return ImageRecord(
            id: config, manifest: manifest, names: names, layers: layers, diffIDs: image.config.rootfs.diff_ids, rootfsKey: key,
            size: image.manifest.layers.reduce(0) { $0 + $1.size }, imported: imported,
            architecture: image.config.architecture, os: image.config.os, runConfig: image.config.config,
            annotations: annotations)
    }

    /// The source itself when a directory, else its tar (the opened `file` if given) extracted
    /// into staging, its symbolic links recorded rather than written.
    private func sourceTree(_ source: String) throws -> ImageSourceTree {
        let target = staging + "/source"
        let extracted: ExtractionResult
        if let file {
            extracted = try step("extract \(source)") {
                try ArchiveExtractor.extract(archive: file, into: target, limits: ImageLayers.limits, symlinks: .record)
            }
        } else if Files.isDirectory(source) {
            return ImageSourceTree(directory: source, links: nil)
        } else {
            extracted = try step("extract \(source)") {
                try ArchiveExtractor.extract(archive: source, into: target, limits: ImageLayers.limits, symlinks: .record)
            }
        }
        return ImageSourceTree(directory: target, links: extracted.symlinks)
    }

    /// Each layer copied into the store, its blob digest checked (OCI) and its diff ID checked
    /// against the config; the manifest's layer descriptors get the real digests and sizes.
    private func ingestLayers(_ image: inout StagedImage) throws -> [ImageDigest] {
        var digests: [ImageDigest] = []
        for (index, file) in image.layerFiles.enumerated() {
            let digest = try ingest(file, expected: image.expectedLayerDigests[index], what: "layer \(index + 1)")
            let diffID = image.config.rootfs.diff_ids[index]
            if digest != diffID {
                let actual = try step("decompress layer \(index + 1) \(file)") { try ImageLayers.diffID(of: store.blobPath(digest)) }
                guard actual == diffID.description else {
                    throw EngineError.step("verify layer \(index + 1)", cause: ArchiveError.digestMismatch(
                        what: "diff ID of layer \(index + 1)", path: file, expected: diffID.description, actual: actual))
                }
            }
            if image.expectedLayerDigests[index] == nil {
                var info = stat()
                _ = stat(store.blobPath(digest), &info)
                image.manifest.layers[index] = OCIDescriptor(
                    mediaType: digest == diffID ? OCIMediaType.layerTar : OCIMediaType.layerGzip, digest: digest, size: Int64(info.st_size))
            }
            digests.append(digest)
        }
        return digests
    }

    /// Copies `file` into the blob store while hashing it; a known `expected` digest must match.
    private func ingest(_ file: String, expected: ImageDigest?, what: String) throws -> ImageDigest {
        let temporary = staging + "/blob-\(UInt64.random(in: 0 ... .max))"
        let (hex, _) = try step("copy \(what) \(file)") { try BlobFile.copy(from: file, to: temporary) }
        defer { unlink(temporary) }
        guard let digest = ImageDigest(hex: hex) else { throw EngineError.invalidInput(what: "digest", detail: hex) }
        if let expected, expected != digest {
            throw EngineError.step("verify \(what)", cause: ArchiveError.digestMismatch(what: what, path: file, expected: expected.description, actual: digest.description))
        }
        _ = try step("store blob \(digest)") { try sysCall("rename", path: store.blobPath(digest)) { rename(temporary, store.blobPath(digest)) } }
        return digest
    }

    private func ingest(bytes: [UInt8]) throws -> ImageDigest {
        let file = staging + "/manifest.json"
        try step("write \(file)") { try Files.writeAtomically(file, bytes, mode: 0o644) }
        return try ingest(file, expected: nil, what: "manifest")
    }

    /// The layers unpacked into `rootfs/<key>` unless an image with the same stack did it.
    private func unpack(_ layers: [ImageDigest], key: String) throws {
        let tree = store.rootfsDirectory + "/" + key
        if Files.isDirectory(tree) { return }
        let target = staging + "/rootfs"
        try step("create \(target)") { try Files.makeDirectories(target, mode: 0o700) }
        try step("unpack layers into \(target)") { try ImageLayers.unpack(layers: layers.map(store.blobPath), into: target) }
        _ = try step("move the unpacked image to \(tree)") { try sysCall("rename", path: tree) { rename(target, tree) } }
    }
}
