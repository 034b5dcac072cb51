import CrpodCore

/// A `WWW-Authenticate` challenge of an OCI distribution registry: `Bearer realm="…",
/// service="…",scope="…"` (token auth) or `Basic realm="…"`.
public struct RegistryChallenge: Sendable, Equatable {
    public var scheme: String
    public var parameters: [String: String]

    public var realm: String? { parameters["realm"] }

    /// Parses one challenge; nil when the header is not `scheme k="v", …`.
    public static func parse(_ header: String) -> RegistryChallenge? {
        let trimmed = header.drop { $0 == " " }
        guard let space = trimmed.firstIndex(of: " ") else {
            return trimmed.isEmpty ? nil : RegistryChallenge(scheme: trimmed.lowercased(), parameters: [:])
        }
        let scheme = trimmed[..<space].lowercased()
        var parameters: [String: String] = [:]
        var rest = Substring(trimmed[trimmed.index(after: space)...])
        while true {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingSpaces.lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(character); escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { break } else { value.append(character) }
                }
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end]).trimmingSpaces
                rest = rest[end...]
            }
            guard !key.isEmpty else { return nil }
            parameters[key] = value
        }
        return RegistryChallenge(scheme: scheme, parameters: parameters)
    }

    /// The token endpoint's URL for `scope` (the challenge's own scope when it names one; none
    /// for `login`, which asks for a token to check the credentials), with `account` (the
    /// user name, as Docker's token protocol sends it) when there are credentials.
    public func tokenURL(scope: String?, account: String? = nil) -> String? {
        guard scheme == "bearer", let realm, realm.hasPrefix("https://") || realm.hasPrefix("http://") else { return nil }
        var query: [String] = []
        if let service = parameters["service"] { query.append("service=" + RegistryPaths.percentEncoded(service)) }
        if let scope = parameters["scope"] ?? scope { query.append("scope=" + RegistryPaths.percentEncoded(scope)) }
        if let account { query.append("account=" + RegistryPaths.percentEncoded(account)) }
        return realm + (query.isEmpty ? "" : (realm.contains("?") ? "&" : "?") + query.joined(separator: "&"))
    }
}

/// URL paths of the distribution API for one repository.
public struct RegistryPaths: Sendable, Equatable {
    public let host: String
    public let base: String
    public let repository: String

    /// `reference` must name its registry (`host[:port]/path`): crpod has no default registry.
    /// `secure`: https; false is plain http (`--tls-verify=false`); nil: https, except plain
    /// http for a registry on the loopback interface (Docker's default for 127.0.0.0/8).
    public init(_ reference: ImageReference, secure: Bool?) throws(CoreError) {
        guard let host = reference.host else {
            throw CoreError.invalidName(reference.description, what: "image reference", reason: "name the registry: host[:port]/path[:tag]")
        }
        self.init(host: host, repository: reference.path, secure: secure)
    }

    /// The registry `host[:port]` itself (`login`): `repository` is empty.
    public init(host: String, repository: String = "", secure: Bool?) {
        self.host = host
        base = (secure ?? !Self.isLoopback(host) ? "https://" : "http://") + host
        self.repository = repository
    }

    /// Whether `host[:port]` is on the loopback interface: `localhost`, 127.0.0.0/8 or `[::1]`.
    /// Such a registry is reached by plain http unless `--tls-verify` is given: a registry on
    /// this machine (a test or a build cache) rarely has a certificate, and traffic never
    /// leaves the host.
    public static func isLoopback(_ host: String) -> Bool {
        let name: Substring
        if host.hasPrefix("[") {
            name = host.dropFirst().prefix { $0 != "]" }
        } else {
            name = host.prefix { $0 != ":" }
        }
        if name.lowercased() == "localhost" || name == "::1" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// `GET /v2/`: the API's version check, where `login` tests credentials.
    public var versionCheck: String { "\(base)/v2/" }

    public func manifest(_ reference: String) -> String { "\(base)/v2/\(repository)/manifests/\(reference)" }
    public func blob(_ digest: ImageDigest) -> String { "\(base)/v2/\(repository)/blobs/\(digest)" }
    public var uploads: String { "\(base)/v2/\(repository)/blobs/uploads/" }
    public func scope(push: Bool) -> String { "repository:\(repository):" + (push ? "pull,push" : "pull") }

    /// An upload `Location` (absolute, or a path on the registry) with `digest=` added.
    public func completeUpload(location: String, digest: ImageDigest) -> String {
        let absolute = location.hasPrefix("http://") || location.hasPrefix("https://") ? location : base + (location.hasPrefix("/") ? "" : "/") + location
        return absolute + (absolute.contains("?") ? "&" : "?") + "digest=" + RegistryPaths.percentEncoded(digest.description)
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let keep = (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || [45, 46, 95, 126].contains(byte)
            out += keep ? String(UnicodeScalar(byte)) : "%" + String(byte, radix: 16, uppercase: true).leftPadded
        }
        return out
    }
}

private extension String {
    var leftPadded: String { count == 1 ? "0" + self : self }
}

private extension StringProtocol {
    var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
