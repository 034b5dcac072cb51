#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux
import CrpodRegistry

extension Engine {
    /// `crpod image pull REF`: the manifest for this platform and its blobs are downloaded
    /// (each verified by digest as it arrives) into an OCI layout under `<root>/images/pulls/`,
    /// outside the state lock, then imported like any layout (verified again, unpacked once).
    /// The layout is removed afterwards, also on failure; after a kill -9 its lease is free
    /// and the next pull, import or rm removes it.
    /// `progress` hears each blob's bytes as they arrive; `auth` says where credentials are.
    public func pullImage(_ text: String, tlsVerify: Bool?, auth: RegistryAuth = RegistryAuth(), progress: BlobProgress? = nil) async throws -> ImageRecord {
        let reference = try ImageReference.parse(text)
        try RegistryError.requireClient(for: "image pull \(reference)")
        let client = try await registryClient(reference, tlsVerify: tlsVerify, push: false, auth: auth)
        let store = images
        let (layout, lease) = try await locked {
            try store.ensureLayout()
            try store.clearStalePulls()
            return try store.startPull()
        }
        defer {
            try? Files.removeTree(layout)
            lease.release()
        }
        try step("create \(layout)/\(OCILayout.blobsDirectory)") { try Files.makeDirectories(layout + "/" + OCILayout.blobsDirectory, mode: 0o700) }
        let descriptor = try await step("pull \(reference)") { try await download(reference, client: client, into: layout, progress: progress) }
        let index = OCIIndex(manifests: [OCIDescriptor(
            mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size,
            annotations: [OCILayout.refNameAnnotation: reference.description])])
        try step("write \(layout)/\(OCILayout.indexFile)") {
            try Files.writeAtomically(layout + "/" + OCILayout.indexFile, try OCIDocuments.encode(index), mode: 0o600)
        }
        return try await importImage(path: layout, name: reference.digest == nil ? reference.description : nil)
    }

    /// Manifest (through an index when the tag names one), config and layers into `layout`.
    private func download(_ reference: ImageReference, client: RegistryClient, into layout: String, progress: BlobProgress?) async throws -> OCIDescriptor {
        var fetched = try await client.manifest(reference.digest?.description ?? reference.effectiveTag ?? ImageReference.defaultTag)
        if OCIMediaType.indexes.contains(fetched.mediaType) {
            let index = try OCIDocuments.decode(OCIIndex.self, from: fetched.bytes, source: client.paths.manifest("\(fetched.digest)"))
            let chosen = try ImageSelection.manifest(in: index, platform: ImageSource.hostPlatform, source: "index \(fetched.digest)")
            fetched = try await client.manifest(chosen.digest.description)
        }
        guard OCIMediaType.manifests.contains(fetched.mediaType) else {
            throw CoreError.invalidImage(source: client.paths.manifest("\(fetched.digest)"), reason: "media type \(fetched.mediaType) is not an image manifest")
        }
        let manifest = try OCIDocuments.decode(OCIManifest.self, from: fetched.bytes, source: "manifest \(fetched.digest)")
        try Files.writeAtomically(layout + "/" + OCILayout.blobPath(fetched.digest), fetched.bytes, mode: 0o600)
        for descriptor in [manifest.config] + manifest.layers {
            let path = layout + "/" + OCILayout.blobPath(descriptor.digest)
            if !Files.exists(path) { try await client.blob(descriptor.digest, to: path, progress: progress) }
        }
        return OCIDescriptor(mediaType: fetched.mediaType, digest: fetched.digest, size: Int64(fetched.bytes.count))
    }

    /// `crpod image push IMAGE [DESTINATION]`: the stored blobs the registry lacks, then the
    /// stored manifest under the destination's tag. Returns the manifest digest. `progress`
    /// hears each uploaded blob's bytes.
    public func pushImage(_ source: String, destination: String?, tlsVerify: Bool?, auth: RegistryAuth = RegistryAuth(),
                          progress: BlobProgress? = nil) async throws -> ImageDigest {
        try RegistryError.requireClient(for: "image push \(source)")
        let record = try image(source)
        let target = try ImageReference.parse(destination ?? source)
        guard let tag = target.effectiveTag else {
            throw EngineError.invalidInput(what: "push destination", detail: "\(target) has no tag to push to")
        }
        let client = try await registryClient(target, tlsVerify: tlsVerify, push: true, auth: auth)
        let store = images
        let manifestBytes = try step("read manifest \(record.manifest)") { try Files.read(store.blobPath(record.manifest), limit: OCIDocuments.maxDocumentBytes) }
        let manifest = try OCIDocuments.decode(OCIManifest.self, from: manifestBytes, source: "manifest \(record.manifest)")
        try await step("push \(record.id.short) to \(target)") {
            for digest in record.layers + [record.id] where !(try await client.hasBlob(digest)) {
                try await client.upload(digest, from: store.blobPath(digest), progress: progress)
            }
            try await client.putManifest(manifestBytes, mediaType: manifest.mediaType ?? OCIMediaType.manifest, tag: tag)
        }
        return record.manifest
    }

    /// The client for `reference` with its credentials: `auth`'s own, else the entry for its
    /// registry in the authfile (`auth`'s, else the settings' one), else none (anonymous); and
    /// with the registry's CA files (`auth.certDir`, else certs.d). Both are read on a thread of
    /// their own (the authfile path may name a FIFO).
    func registryClient(_ reference: ImageReference, tlsVerify: Bool?, push: Bool, auth: RegistryAuth) async throws -> RegistryClient {
        let paths = try RegistryPaths(reference, secure: tlsVerify)
        try auth.checkAllowed(host: paths.host, reference: reference.description)  // before any file or connection
        let file = auth.credentials != nil ? nil : auth.authFile.map { (path: $0, mustExist: true) } ?? settings.registryAuthFile
        let (trust, found) = try await BlockingThread.run("read CA files and authfile for \(paths.host)") { _ in
            let trust = try RegistryTrust.load(host: paths.host, certDir: auth.certDir)
            guard let file else { return (trust, nil as (credentials: RegistryCredentials?, exists: Bool)?) }
            return (trust, (try AuthFile.load(file.path, mustExist: file.mustExist).credentials(host: paths.host, repository: paths.repository),
                            Files.exists(file.path)))
        }
        if let credentials = auth.credentials { return try RegistryClient(paths: paths, push: push, credentials: credentials, trust: trust) }
        guard let file, let found else { return try RegistryClient(paths: paths, push: push, searched: "no authfile", trust: trust) }
        let searched = found.exists ? "no entry for \(paths.host) in authfile \(file.path)" : "no authfile: \(file.path) does not exist"
        return try RegistryClient(paths: paths, push: push, credentials: found.credentials, searched: searched, trust: trust)
    }
}
