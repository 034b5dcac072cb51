import CrpodArchive
import CrpodCore
import CrpodLinux

/// An image found in an OCI layout or a docker-save tree, before anything is stored: the
/// documents are parsed and checked, the files are where they lie in the source.
struct StagedImage {
    var manifest: OCIManifest
    /// nil for a docker-save image (crpod writes the OCI manifest itself).
    var manifestBytes: [UInt8]?
    var configBytes: [UInt8]
    var config: OCIImageConfig
    var configFile: String
    /// One file per layer, bottom first.
    var layerFiles: [String]
    /// The blob digests the layers must have (nil: computed, then checked against the diff IDs).
    var expectedLayerDigests: [ImageDigest?]
    var recordedNames: [String]
}

/// Reads the two source formats: an OCI image layout (`skopeo copy … oci:DIR`, `podman save
/// --format oci-archive`) and a docker-save tree (`docker save`, `podman save`, whose
/// `<id>/layer.tar` members may be symbolic links: see `ImageSourceTree`).
enum ImageSource {
    static func read(_ tree: ImageSourceTree, name: String?) throws -> StagedImage {
        if try tree.exists(OCILayout.indexFile) { return try readLayout(tree, name: name) }
        if try tree.exists(OCILayout.dockerManifestFile) { return try readDockerSave(tree, name: name) }
        throw EngineError.invalidInput(
            what: "image source", detail: "\(tree.directory) holds neither \(OCILayout.indexFile) (OCI layout) nor \(OCILayout.dockerManifestFile) (docker save)")
    }

    static var hostPlatform: OCIPlatform {
        #if arch(x86_64)
        OCIPlatform(architecture: "amd64", os: "linux")
        #elseif arch(arm64)
        OCIPlatform(architecture: "arm64", os: "linux")
        #else
        OCIPlatform(architecture: "unknown", os: "linux")
        #endif
    }

    /// A layout blob's bytes, checked against its descriptor's digest and size.
    private static func blob(_ tree: ImageSourceTree, _ descriptor: OCIDescriptor) throws -> [UInt8] {
        let path = tree.directory + "/" + OCILayout.blobPath(descriptor.digest)
        let bytes = try tree.document(OCILayout.blobPath(descriptor.digest), source: path)
        let actual = try step("hash \(path)") { try SHA256Hasher.hash(bytes) }
        guard actual == descriptor.digest.hex, Int64(bytes.count) == descriptor.size else {
            throw EngineError.step("verify \(path)", cause: ArchiveError.digestMismatch(
                what: "blob", path: path, expected: "\(descriptor.digest) (\(descriptor.size) bytes)", actual: "sha256:\(actual) (\(bytes.count) bytes)"))
        }
        return bytes
    }

    private static func readLayout(_ tree: ImageSourceTree, name: String?) throws -> StagedImage {
        let indexPath = tree.directory + "/" + OCILayout.indexFile
        let index = try OCIDocuments.decode(OCIIndex.self, from: try tree.document(OCILayout.indexFile, source: indexPath), source: indexPath)
        var chosen = try ImageSelection.manifest(in: index, platform: hostPlatform, source: indexPath, name: name)
        let names = ImageSelection.refName(chosen).map { [$0] } ?? []
        if OCIMediaType.indexes.contains(chosen.mediaType) {  // one level of nesting (a multi-platform image)
            let nested = try OCIDocuments.decode(OCIIndex.self, from: try blob(tree, chosen), source: "\(chosen.digest)")
            chosen = try ImageSelection.manifest(in: nested, platform: hostPlatform, source: "index \(chosen.digest)")
            guard OCIMediaType.manifests.contains(chosen.mediaType) else {
                throw CoreError.invalidImage(source: indexPath, reason: "indexes nested more than one level")
            }
        }
        let manifestBytes = try blob(tree, chosen)
        let manifest = try OCIDocuments.decode(OCIManifest.self, from: manifestBytes, source: "manifest \(chosen.digest)")
        let configBytes = try blob(tree, manifest.config)
        let config = try OCIDocuments.decode(OCIImageConfig.self, from: configBytes, source: "config \(manifest.config.digest)")
        try ImageSelection.validate(manifest: manifest, config: config, source: "manifest \(chosen.digest)")
        return StagedImage(
            manifest: manifest, manifestBytes: manifestBytes, configBytes: configBytes, config: config,
            configFile: try tree.path(OCILayout.blobPath(manifest.config.digest), source: indexPath),
            layerFiles: try manifest.layers.map { try tree.path(OCILayout.blobPath($0.digest), source: indexPath) },
            expectedLayerDigests: manifest.layers.map(\.digest), recordedNames: names)
    }

    private static func readDockerSave(_ tree: ImageSourceTree, name: String?) throws -> StagedImage {
        let listPath = tree.directory + "/" + OCILayout.dockerManifestFile
        let entries = try OCIDocuments.decode([DockerSaveEntry].self, from: try tree.document(OCILayout.dockerManifestFile, source: listPath), source: listPath)
        let entry = try ImageSelection.dockerEntry(entries, name: name, source: listPath)
        let configMember = try tree.resolve(try ImageSelection.dockerMember(entry.Config, source: listPath), source: listPath)
        let configFile = tree.directory + "/" + configMember
        let configBytes = try tree.document(configMember, source: listPath)
        let config = try OCIDocuments.decode(OCIImageConfig.self, from: configBytes, source: configFile)
        let configHex = try step("hash \(configFile)") { try SHA256Hasher.hash(configBytes) }
        guard let configDigest = ImageDigest(hex: configHex) else { throw EngineError.invalidInput(what: "config digest", detail: configHex) }
        var layers: [String] = []
        for layer in entry.Layers { layers.append(try tree.path(try ImageSelection.dockerMember(layer, source: listPath), source: listPath)) }
        // Placeholder layer descriptors until the blobs are hashed (ImageImport fills them).
        let manifest = OCIManifest(
            config: OCIDescriptor(mediaType: OCIMediaType.config, digest: configDigest, size: Int64(configBytes.count)),
            layers: config.rootfs.diff_ids.map { OCIDescriptor(mediaType: OCIMediaType.layerTar, digest: $0, size: 0) })
        guard layers.count == config.rootfs.diff_ids.count else {
            throw CoreError.invalidImage(source: listPath, reason: "\(layers.count) layers for \(config.rootfs.diff_ids.count) diff_ids in \(entry.Config)")
        }
        try ImageSelection.validate(manifest: manifest, config: config, source: listPath)
        return StagedImage(
            manifest: manifest, manifestBytes: nil, configBytes: configBytes, config: config, configFile: configFile,
            layerFiles: layers, expectedLayerDigests: layers.map { _ in nil }, recordedNames: entry.RepoTags ?? [])
    }
}
