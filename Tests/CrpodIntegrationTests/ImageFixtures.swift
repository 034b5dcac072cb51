#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodDrivers
import CrpodLinux
import Testing

/// Test images written offline from directory trees with GNU tar: an OCI image layout
/// (what `skopeo copy … oci:DIR` writes) and a docker-save archive (what `docker save` writes:
/// each layer a regular `<n>/layer.tar`; podman 4.3.1's `podman save` writes the layer once at
/// the top and links `<id>/layer.tar` to it — PodmanSaveImportTests uses the real podman).
struct ImageFixtures {
    let directory: String
    let runner = ToolRunner()

    struct Layer {
        var file: String
        var digest: String
        var diffID: String
        var size: Int
        var gzip: Bool
    }

    /// A layer tar of `tree` (numeric owners), gzipped when asked.
    func layer(of tree: String, named name: String, gzip: Bool, members: [String] = ["."]) async throws -> Layer {
        let tar = "\(directory)/\(name).tar"
        let made = try await runner.run("/bin/tar", ["--numeric-owner", "-C", tree, "-cf", tar] + members)
        try #require(made.status == .exited(0), "tar: \(made.stderr)")
        let diffID = try SHA256Hasher.hash(file: tar)
        guard gzip else { return Layer(file: tar, digest: diffID, diffID: diffID, size: size(tar), gzip: false) }
        let packed = try await runner.run("/bin/gzip", ["-n", tar])
        try #require(packed.status == .exited(0), "gzip: \(packed.stderr)")
        return Layer(file: tar + ".gz", digest: try SHA256Hasher.hash(file: tar + ".gz"), diffID: diffID, size: size(tar + ".gz"), gzip: true)
    }

    func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    func config(_ layers: [Layer]) -> [UInt8] {
        let ids = layers.map { "\"sha256:\($0.diffID)\"" }.joined(separator: ",")
        return Array(#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin:/usr/bin"]},"rootfs":{"type":"layers","diff_ids":[\#(ids)]}}"#.utf8)
    }

    /// Writes an OCI layout at `layout` naming the image `reference`; returns the config digest (the image ID).
    @discardableResult
    func ociLayout(_ layout: String, layers: [Layer], reference: String, annotations: [String: String] = [:]) throws -> String {
        let blobs = layout + "/blobs/sha256"
        try Files.makeDirectories(blobs, mode: 0o755)
        func blob(_ bytes: [UInt8]) throws -> String {
            let digest = try SHA256Hasher.hash(bytes)
            try Files.writeAtomically("\(blobs)/\(digest)", bytes, mode: 0o644)
            return digest
        }
        for layer in layers { try Files.writeAtomically("\(blobs)/\(layer.digest)", try Files.read(layer.file, limit: 64 << 20), mode: 0o644) }
        let configBytes = config(layers)
        let configDigest = try blob(configBytes)
        let layerJSON = layers.map {
            #"{"mediaType":"application/vnd.oci.image.layer.v1.tar\#($0.gzip ? "+gzip" : "")","digest":"sha256:\#($0.digest)","size":\#($0.size)}"#
        }.joined(separator: ",")
        let annotationJSON = annotations.isEmpty ? "" :
            #","annotations":{"# + annotations.sorted { $0.key < $1.key }.map { #""\#($0.key)":"\#($0.value)""# }.joined(separator: ",") + "}"
        let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\#(configDigest)","size":\#(configBytes.count)},"layers":[\#(layerJSON)]\#(annotationJSON)}"#.utf8)
        let manifestDigest = try blob(manifest)
        let index = #"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\#(manifestDigest)","size":\#(manifest.count),"annotations":{"org.opencontainers.image.ref.name":"\#(reference)"}}]}"#
        try Files.writeAtomically(layout + "/index.json", Array(index.utf8), mode: 0o644)
        try Files.writeAtomically(layout + "/oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), mode: 0o644)
        return configDigest
    }

    /// Writes a docker-save tar (manifest.json, <id>.json, l<n>/layer.tar) at `archive`, from
    /// the tree `<archive>.d` (left in place, for a test to change and `tar` again).
    @discardableResult
    func dockerSave(_ archive: String, layers: [Layer], tag: String) async throws -> String {
        let tree = archive + ".d"
        let configBytes = config(layers)
        let configDigest = try SHA256Hasher.hash(configBytes)
        try Files.makeDirectories(tree, mode: 0o755)
        try Files.writeAtomically("\(tree)/\(configDigest).json", configBytes, mode: 0o644)
        var names: [String] = []
        for (index, layer) in layers.enumerated() {
            try Files.makeDirectories("\(tree)/l\(index)", mode: 0o755)
            try Files.writeAtomically("\(tree)/l\(index)/layer.tar", try Files.read(layer.file, limit: 64 << 20), mode: 0o644)
            names.append("\"l\(index)/layer.tar\"")
        }
        let list = #"[{"Config":"\#(configDigest).json","RepoTags":["\#(tag)"],"Layers":[\#(names.joined(separator: ","))]}]"#
        try Files.writeAtomically("\(tree)/manifest.json", Array(list.utf8), mode: 0o644)
        try await tar(tree, into: archive)
        return configDigest
    }

    /// A plain tar of the tree's content (`./…` members, symbolic links stored as links).
    func tar(_ tree: String, into archive: String) async throws {
        let made = try await runner.run("/bin/tar", ["-C", tree, "-cf", archive, "."])
        try #require(made.status == .exited(0), "tar: \(made.stderr)")
    }
}

extension CrpodInstance {
    var imageStore: String { root + "/images" }

    /// Blobs and unpacked trees in the store, and staging leftovers.
    func imageStoreContents() throws -> [String] {
        var found: [String] = []
        for sub in ["blobs/sha256", "rootfs", "tmp"] where Files.isDirectory("\(imageStore)/\(sub)") {
            found += try Files.listDirectory("\(imageStore)/\(sub)").map { "\(sub)/\($0)" }
        }
        return found
    }
}

extension CrpodInstance {
    /// The busybox test rootfs as a one-layer (gzip) OCI layout at `<base>/oci`, imported into
    /// this instance's store as `reference`: the layer and the image ID `image import` printed.
    @discardableResult
    func importBusybox(as reference: String) async throws -> (layer: ImageFixtures.Layer, id: String) {
        let fixtures = ImageFixtures(directory: base)
        let layer = try await fixtures.layer(of: PrivilegedHost.rootfs, named: "busybox", gzip: true)
        try fixtures.ociLayout(base + "/oci", layers: [layer], reference: reference)
        return (layer, try await ok(["image", "import", base + "/oci"]))
    }
}
