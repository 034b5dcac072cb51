// A build without the `Registry` trait (`contrib/build-static.sh --without-registry`): no
// async-http-client is linked, and this RegistryClient, with the real one's API, refuses every
// request with `RegistryError.notBuiltIn`. Callers check `RegistryError.requireClient(for:)`
// first, so an operation is refused before it starts; these bodies are the backstop.
#if !Registry
import CrpodCore

public final class RegistryClient: Sendable {
    /// This build has no client.
    public static let isBuiltIn = false

    public let paths: RegistryPaths

    public convenience init(_ reference: ImageReference, secure: Bool?, push: Bool = false, credentials: RegistryCredentials? = nil,
                            searched: String = "no credentials given", trust: RegistryTrust = RegistryTrust()) throws {
        try self.init(paths: try RegistryPaths(reference, secure: secure), push: push, credentials: credentials, searched: searched, trust: trust)
    }

    public init(paths: RegistryPaths, push: Bool = false, credentials: RegistryCredentials? = nil, searched: String = "no credentials given",
                trust: RegistryTrust = RegistryTrust()) throws(RegistryError) {
        self.paths = paths
    }

    public func checkCredentials() async throws { throw refusal("check credentials at \(paths.versionCheck)") }

    public func manifest(_ reference: String) async throws -> (bytes: [UInt8], mediaType: String, digest: ImageDigest) {
        throw refusal("GET \(paths.manifest(reference))")
    }

    public func blob(_ digest: ImageDigest, to path: String, progress: BlobProgress? = nil) async throws {
        throw refusal("GET \(paths.blob(digest))")
    }

    public func hasBlob(_ digest: ImageDigest) async throws -> Bool { throw refusal("HEAD \(paths.blob(digest))") }

    public func upload(_ digest: ImageDigest, from path: String, progress: BlobProgress? = nil) async throws {
        throw refusal("upload \(path) to \(paths.uploads)")
    }

    public func putManifest(_ bytes: [UInt8], mediaType: String, tag: String) async throws {
        throw refusal("PUT \(paths.manifest(tag))")
    }

    private func refusal(_ operation: String) -> RegistryError { .notBuiltIn(operation: operation) }
}
#endif
