/// Pure rules of the image store: which manifest of an index, whether a manifest and its
/// config agree, how docker-save member names are read, what an image is called.
public enum ImageSelection {
    /// The manifest for `platform` among an index's entries: the only manifest, else the one
    /// whose platform matches (os and architecture). Index entries (nested indexes) are
    /// returned too, for the caller to open one level down.
    public static func manifest(in index: OCIIndex, platform: OCIPlatform, source: String, name: String? = nil) throws(CoreError) -> OCIDescriptor {
        var candidates = index.manifests.filter { OCIMediaType.manifests.contains($0.mediaType) || OCIMediaType.indexes.contains($0.mediaType) }
        if let name {
            let named = candidates.filter { refName($0) == name || refName($0).map { tagOnly in name.hasSuffix(":" + tagOnly) } == true }
            if !named.isEmpty { candidates = named }
        }
        guard !candidates.isEmpty else { throw CoreError.invalidImage(source: source, reason: "the index lists no image manifest") }
        if candidates.count == 1 { return candidates[0] }
        let matching = candidates.filter { $0.platform.map { $0.os == platform.os && $0.architecture == platform.architecture } ?? false }
        if matching.count >= 1 { return matching[0] }
        let offered = candidates.map { $0.platform.map { "\($0.os)/\($0.architecture)" } ?? "untagged \($0.digest.short)" }
        throw CoreError.invalidImage(
            source: source, reason: "\(candidates.count) manifests and none for \(platform.os)/\(platform.architecture) (offered: \(offered.joined(separator: ", ")))")
    }

    /// The `org.opencontainers.image.ref.name` (or containerd's full name) of an index entry.
    public static func refName(_ descriptor: OCIDescriptor) -> String? {
        descriptor.annotations?[OCILayout.containerdNameAnnotation] ?? descriptor.annotations?[OCILayout.refNameAnnotation]
    }

    /// Checks a manifest before any layer is read: known media types, a bounded layer count,
    /// and a config whose diff_ids has one entry per layer.
    public static func validate(manifest: OCIManifest, config: OCIImageConfig, source: String) throws(CoreError) {
        func bad(_ reason: String) -> CoreError { .invalidImage(source: source, reason: reason) }
        guard manifest.schemaVersion == 2 else { throw bad("manifest schemaVersion \(manifest.schemaVersion) (only 2 is supported)") }
        guard OCIMediaType.configs.contains(manifest.config.mediaType) else { throw bad("config media type \(manifest.config.mediaType) is not an image config") }
        guard !manifest.layers.isEmpty, manifest.layers.count <= OCIDocuments.maxLayers else {
            throw bad("\(manifest.layers.count) layers (1 to \(OCIDocuments.maxLayers) supported)")
        }
        for layer in manifest.layers where !OCIMediaType.layers.contains(layer.mediaType) {
            throw bad("layer \(layer.digest.short) has media type \(layer.mediaType) (supported: tar, tar+gzip, tar+zstd)")
        }
        for descriptor in [manifest.config] + manifest.layers where descriptor.size < 0 {
            throw bad("descriptor \(descriptor.digest.short) has a negative size")
        }
        guard config.rootfs.type == "layers", config.rootfs.diff_ids.count == manifest.layers.count else {
            throw bad("the config's rootfs lists \(config.rootfs.diff_ids.count) diff_ids for \(manifest.layers.count) layers")
        }
        if let os = config.os, os != "linux" { throw bad("the image is for \(os), not linux") }
    }

    /// A docker-save member name (`<hex>.json`, `<id>/layer.tar`, `blobs/sha256/<hex>`): relative,
    /// no `..`, `.` or empty components.
    public static func dockerMember(_ name: String, source: String) throws(CoreError) -> String {
        let trimmed = name.hasPrefix("./") ? String(name.dropFirst(2)) : name
        let components = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        guard !trimmed.isEmpty, !trimmed.hasPrefix("/"), trimmed.utf8.count <= 4096,
              components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }), !trimmed.contains("\0") else {
            throw CoreError.invalidImage(source: source, reason: "member name \(name.debugDescription) is not a plain relative path")
        }
        return trimmed
    }

    /// The single docker-save entry to import: the only one, or the one tagged `name`.
    public static func dockerEntry(_ entries: [DockerSaveEntry], name: String?, source: String) throws(CoreError) -> DockerSaveEntry {
        if entries.count == 1 { return entries[0] }
        if let name, let entry = entries.first(where: { ($0.RepoTags ?? []).contains(name) }) { return entry }
        throw CoreError.invalidImage(
            source: source, reason: "\(entries.count) images in \(OCILayout.dockerManifestFile): name one with --name (tags: \(entries.flatMap { $0.RepoTags ?? [] }.joined(separator: ", ")))")
    }

    /// The names an imported image gets: `--name` when given, else the archive's own; an OCI
    /// ref.name that is only a tag (`skopeo copy … oci:DIR:TAG`) is refused without --name.
    public static func names(given: String?, recorded: [String], source: String) throws(CoreError) -> [ImageReference] {
        if let given { return [try ImageReference.parse(given)] }
        var names: [ImageReference] = []
        for text in recorded {
            guard let reference = try? ImageReference.parse(text), text.contains("/") || text.contains(":") else { continue }
            if !names.contains(reference) { names.append(reference) }
        }
        return names
    }

    /// The text whose SHA-256 keys an unpacked rootfs: the verified layer blob digests in
    /// order (two images with the same layers share one unpacked tree).
    public static func layerStackText(_ layers: [ImageDigest]) -> String {
        layers.map(\.description).joined(separator: "\n")
    }
}
