// The client proper: only in a build with the `Registry` trait (the default; Package.swift).
// Without it, RegistryClient+Absent.swift provides the same API, refusing.
#if Registry
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AsyncHTTPClient
import CrpodArchive
import CrpodCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A client of one repository of an OCI distribution registry: manifests and blobs, each
/// verified by digest; Basic and Bearer token auth (anonymous, or with credentials), the
/// `Authorization` value cached.
public final class RegistryClient: Sendable {
    /// This build has the client (see `RegistryError.requireClient`).
    public static let isBuiltIn = true

    public let paths: RegistryPaths
    private let http: HTTPClient
    private let authorization = AuthorizationBox()
    private let push: Bool
    private let credentials: RegistryCredentials?
    /// Where credentials were looked for when there are none, for the error that asks for them.
    private let searched: String
    /// The system roots plus the registry's CA files (nil without any: the client's default).
    private let tlsConfiguration: TLSConfiguration?
    private let trustDirectories: [String]

    /// One client for the process, never shut down (like `HTTPClient.shared`), but failing
    /// fast: a connection (TCP and TLS) that cannot be made in 10 s fails the request, where
    /// the browser-like default retries for 90 s (an https request to a plain-HTTP registry).
    static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .seconds(10), read: .seconds(120)))
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static let manifestLimit = 4 << 20
    static let blobLimit: Int64 = 16 << 30
    static let timeout = TimeAmount.minutes(10)
    public static let manifestTypes = [OCIMediaType.index, OCIMediaType.manifest, OCIMediaType.dockerManifestList, OCIMediaType.dockerManifest]

    /// `credentials` answer a Basic challenge and ask a Bearer realm for a token; without them
    /// both are anonymous, and a registry that insists is refused naming `searched`. `trust`'s
    /// CA files are trusted besides the system roots; one that is not PEM is an error naming it.
    public convenience init(_ reference: ImageReference, secure: Bool?, push: Bool = false, credentials: RegistryCredentials? = nil,
                            searched: String = "no credentials given", trust: RegistryTrust = RegistryTrust()) throws {
        try self.init(paths: try RegistryPaths(reference, secure: secure), push: push, credentials: credentials, searched: searched, trust: trust)
    }

    public init(paths: RegistryPaths, push: Bool = false, credentials: RegistryCredentials? = nil, searched: String = "no credentials given",
                trust: RegistryTrust = RegistryTrust()) throws(RegistryError) {
        self.paths = paths
        http = Self.sharedClient
        self.push = push
        self.credentials = credentials
        self.searched = searched
        tlsConfiguration = try Self.tlsConfiguration(trust)
        trustDirectories = trust.directories.isEmpty ? RegistryTrust.directories(host: paths.host, certDir: nil) : trust.directories
    }

    /// The client default (system roots) with `trust`'s CA certificates added; nil without any.
    static func tlsConfiguration(_ trust: RegistryTrust) throws(RegistryError) -> TLSConfiguration? {
        guard !trust.caFiles.isEmpty else { return nil }
        var certificates: [NIOSSLCertificate] = []
        for file in trust.caFiles {
            let parsed = try? NIOSSLCertificate.fromPEMBytes(file.pem)
            guard let parsed, !parsed.isEmpty else { throw .file(path: file.path, detail: "not a PEM CA certificate") }
            certificates += parsed
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.additionalTrustRoots = [.certificates(certificates)]
        return configuration
    }

    /// `crpod login`: `GET /v2/` through the challenge flow; throws unless the registry
    /// accepts the credentials (a registry that asks for none accepts any).
    public func checkCredentials() async throws {
        let request = HTTPClientRequest(url: paths.versionCheck)
        let response = try await send(request)
        if response.status == .unauthorized, let credentials { throw RegistryError.credentialsRefused(realm: paths.host, credentials: credentials) }
        try expect(response, [200], request)
    }

    /// The manifest or index `reference` (a tag or a digest) names, with its media type and digest.
    public func manifest(_ reference: String) async throws -> (bytes: [UInt8], mediaType: String, digest: ImageDigest) {
        var request = HTTPClientRequest(url: paths.manifest(reference))
        request.headers.add(name: "Accept", value: Self.manifestTypes.joined(separator: ", "))
        let response = try await send(request)
        let url = request.url
        try expect(response, [200], request)
        let body = try await collect(response, limit: Self.manifestLimit, url: url)
        let announced = response.headers.first(name: "Docker-Content-Digest").flatMap { ImageDigest($0) }
        let digest = try verified(body, url: url, expected: ImageDigest(reference) ?? announced)
        let type = response.headers.first(name: "Content-Type")?.split(separator: ";").first.map(String.init) ?? OCIMediaType.manifest
        return (body, type, digest)
    }

    /// Downloads the blob `digest` into the new file `path`, hashing as it writes; a mismatch removes the file.
    /// `progress` hears the bytes written so far after each chunk.
    public func blob(_ digest: ImageDigest, to path: String, progress: BlobProgress? = nil) async throws {
        let request = HTTPClientRequest(url: paths.blob(digest))
        let response = try await send(request)
        try expect(response, [200], request)
        let hasher = try SHA256Hasher()
        let io = NonBlockingFileIO(threadPool: .singleton)
        var total: Int64 = 0
        do {
            try await io.withFileHandle(_deprecatedPath: path, mode: .write, flags: .allowFileCreation(posixMode: 0o644)) { handle in
                for try await chunk in response.body {
                    total += Int64(chunk.readableBytes)
                    if total > Self.blobLimit { throw RegistryError.tooLarge(url: request.url, limit: Self.blobLimit) }
                    chunk.withUnsafeReadableBytes { hasher.update($0) }
                    try await io.write(fileHandle: handle, buffer: chunk)
                    progress?(digest, UInt64(total))
                }
            }
            let actual = try hasher.finalize()
            guard actual == digest.hex else { throw RegistryError.digestMismatch(url: request.url, expected: digest.description, actual: "sha256:" + actual) }
        } catch {
            try? await io.unlink(path: path)
            throw error
        }
    }

    /// Whether the registry has the blob already (HEAD).
    public func hasBlob(_ digest: ImageDigest) async throws -> Bool {
        var request = HTTPClientRequest(url: paths.blob(digest))
        request.method = .HEAD
        let response = try await send(request)
        try expect(response, [200, 404], request)
        return response.status == .ok
    }

    /// Uploads the file at `path` as the blob `digest` (one monolithic PUT after POST);
    /// `progress` hears the bytes read for sending so far.
    public func upload(_ digest: ImageDigest, from path: String, progress: BlobProgress? = nil) async throws {
        var start = HTTPClientRequest(url: paths.uploads)
        start.method = .POST
        start.headers.add(name: "Content-Length", value: "0")
        let started = try await send(start)
        try expect(started, [202], start)
        guard let location = started.headers.first(name: "Location") else {
            throw RegistryError.status(method: "POST", url: start.url, status: 202, detail: "no Location header")
        }
        let io = NonBlockingFileIO(threadPool: .singleton)
        try await io.withFileHandle(_deprecatedPath: path, mode: .read) { handle in
            let size = try await io.readFileSize(fileHandle: handle)
            var put = HTTPClientRequest(url: paths.completeUpload(location: location, digest: digest))
            put.method = .PUT
            put.headers.add(name: "Content-Type", value: "application/octet-stream")
            var chunks = FileChunks(io: io, handle: handle, size: size)
            if let progress { chunks.progress = { bytes in progress(digest, bytes) } }
            put.body = .stream(chunks, length: .known(size))
            // Not `send`: a streamed body cannot be replayed after a 401 (the POST got the authorization).
            try expect(try await execute(withAuthorization(put)), [201], put)
        }
    }

    /// Stores `bytes` as the manifest `tag`.
    public func putManifest(_ bytes: [UInt8], mediaType: String, tag: String) async throws {
        var request = HTTPClientRequest(url: paths.manifest(tag))
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: mediaType)
        request.body = .bytes(ByteBuffer(bytes: bytes))
        try expect(try await send(request), [201], request)
    }

    // MARK: - Transport and auth

    /// Sends with the cached `Authorization`; a 401 with a challenge is answered (Basic: the
    /// credentials; Bearer: a token from its realm) and the request retried once.
    func send(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        var attempt = withAuthorization(request)
        let response = try await execute(attempt)
        guard response.status == .unauthorized else { return response }
        let challenge = try await authorize(response, url: request.url)
        attempt.headers.replaceOrAdd(name: "Authorization", value: authorization.value ?? "")
        let retried = try await execute(attempt)
        if retried.status == .unauthorized, challenge.scheme == "basic", let credentials {
            throw RegistryError.credentialsRefused(realm: paths.host, credentials: credentials)
        }
        return retried
    }

    /// Turns the 401 `response` into the `Authorization` value its challenge asks for.
    private func authorize(_ response: HTTPClientResponse, url: String) async throws -> RegistryChallenge {
        guard let header = response.headers.first(name: "WWW-Authenticate"), let challenge = RegistryChallenge.parse(header) else {
            throw RegistryError.authentication(url: url, detail: "HTTP 401 without a WWW-Authenticate challenge")
        }
        switch challenge.scheme {
        case "basic":
            guard let credentials else { throw RegistryError.noCredentials(host: paths.host, searched: searched) }
            authorization.value = credentials.basicAuthorization
        case "bearer":
            let scope = paths.repository.isEmpty ? nil : paths.scope(push: push)
            guard let tokenURL = challenge.tokenURL(scope: scope, account: credentials?.username) else {
                throw RegistryError.authentication(url: url, detail: "unsupported Bearer realm \(challenge.realm ?? "(none)")")
            }
            authorization.value = "Bearer " + (try await fetchToken(tokenURL, realm: challenge.realm ?? tokenURL))
        default:
            throw RegistryError.authentication(url: url, detail: "unsupported challenge \(header.prefix(200)) (crpod speaks Basic and Bearer token auth)")
        }
        return challenge
    }

    private func withAuthorization(_ request: HTTPClientRequest) -> HTTPClientRequest {
        var request = request
        if let value = authorization.value { request.headers.replaceOrAdd(name: "Authorization", value: value) }
        return request
    }

    /// A token from the endpoint `url`, asked with HTTP Basic credentials when there are any.
    private func fetchToken(_ url: String, realm: String) async throws -> String {
        var request = HTTPClientRequest(url: url)
        if let credentials { request.headers.add(name: "Authorization", value: credentials.basicAuthorization) }
        let response = try await execute(request)
        if response.status == .unauthorized || response.status == .forbidden {
            if let credentials { throw RegistryError.credentialsRefused(realm: realm, credentials: credentials) }
            throw RegistryError.noCredentials(host: paths.host, searched: searched)
        }
        guard response.status == .ok else { throw RegistryError.authentication(url: realm, detail: "token endpoint answered HTTP \(response.status.code)") }
        struct Token: Decodable { var token: String?; var access_token: String? }
        let body = try await collect(response, limit: 1 << 20, url: realm)
        guard let decoded = try? JSONDecoder().decode(Token.self, from: Data(body)), let value = decoded.token ?? decoded.access_token, !value.isEmpty else {
            throw RegistryError.authentication(url: realm, detail: "the token endpoint's answer holds no token")
        }
        return value
    }

    private func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        var request = request
        if let tlsConfiguration { request.tlsConfiguration = tlsConfiguration }
        do { return try await http.execute(request, timeout: Self.timeout) } catch let error as RegistryError { throw error } catch {
            if let detail = Self.certificateFailure(error) {
                throw RegistryError.untrustedCertificate(host: paths.host, url: request.url, detail: detail, directories: trustDirectories)
            }
            throw RegistryError.transport(method: request.method.rawValue, url: request.url, detail: "\(error)")
        }
    }

    /// What failed when `error` is a certificate that did not verify (its chain, or its name).
    static func certificateFailure(_ error: any Error) -> String? {
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname { return "its name does not match" }
        guard case NIOSSLError.handshakeFailed = error, "\(error)".contains("CERTIFICATE_VERIFY_FAILED") else { return nil }
        return "certificate verify failed: no trusted CA signed it"
    }

    private func expect(_ response: HTTPClientResponse, _ statuses: [UInt], _ request: HTTPClientRequest) throws {
        guard !statuses.contains(response.status.code) else { return }
        throw RegistryError.status(method: request.method.rawValue, url: request.url, status: Int(response.status.code), detail: "")
    }

    private func collect(_ response: HTTPClientResponse, limit: Int, url: String) async throws -> [UInt8] {
        do { return Array(buffer: try await response.body.collect(upTo: limit)) } catch is NIOTooManyBytesError {
            throw RegistryError.tooLarge(url: url, limit: Int64(limit))
        }
    }

    private func verified(_ bytes: [UInt8], url: String, expected: ImageDigest?) throws -> ImageDigest {
        let hex = try SHA256Hasher.hash(bytes)
        guard let actual = ImageDigest(hex: hex) else { throw RegistryError.digestMismatch(url: url, expected: "a sha256 digest", actual: hex) }
        if let expected, expected != actual { throw RegistryError.digestMismatch(url: url, expected: expected.description, actual: actual.description) }
        return actual
    }
}

/// The `Authorization` value (a Bearer token or Basic credentials) of one client, shared by its requests.
final class AuthorizationBox: Sendable {
    private let stored = Mutex<String?>(nil)

    var value: String? {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}

/// A file read in 1 MiB chunks on NIO's blocking-I/O pool, as an upload body.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let io: NonBlockingFileIO
    let handle: NIOFileHandle
    let size: Int64
    var progress: (@Sendable (UInt64) -> Void)?

    struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: FileChunks
        var offset: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard offset < chunks.size else { return nil }
            let count = Int(Swift.min(1 << 20, chunks.size - offset))
            let chunk = try await chunks.io.read(fileHandle: chunks.handle, fromOffset: offset, byteCount: count, allocator: ByteBufferAllocator())
            guard chunk.readableBytes > 0 else { throw RegistryError.file(path: "upload", detail: "the file shrank at offset \(offset)") }
            offset += Int64(chunk.readableBytes)
            chunks.progress?(UInt64(offset))
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(chunks: self) }
}
#endif
