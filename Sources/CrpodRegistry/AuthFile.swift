#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodLinux

/// containers-auth.json (podman's and skopeo's authfile, Docker's config.json shape):
/// `{"auths": {"HOST[:PORT][/NAMESPACE]": {"auth": "base64(user:password)"}}}`. Other keys
/// and entries survive an update untouched.
public struct AuthFile: Sendable, Equatable {
    public var document: [String: JSONValue]
    /// For messages: `authfile PATH`.
    public let source: String
    static let maxBytes = 1 << 20

    public init(document: [String: JSONValue] = [:], source: String) {
        self.document = document
        self.source = source
    }

    public static func parse(_ bytes: [UInt8], source: String) throws(RegistryError) -> AuthFile {
        guard !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x09 || $0 == 0x0d }) else { return AuthFile(source: source) }
        guard case let .object(document)? = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else {
            throw RegistryError.credentials(source: source, detail: "not a JSON object (expected {\"auths\": {\"HOST\": {\"auth\": \"…\"}}})")
        }
        if let auths = document["auths"], case .object = auths {} else if document["auths"] != nil {
            throw RegistryError.credentials(source: source, detail: "\"auths\" is not an object")
        }
        return AuthFile(document: document, source: source)
    }

    var auths: [String: JSONValue] {
        if case let .object(auths)? = document["auths"] { return auths }
        return [:]
    }

    /// The entry for `host` and `repository`, the most specific key first (podman's lookup):
    /// `host/team/app`, `host/team`, `host`; keys written as `https://host/` match too.
    public func credentials(host: String, repository: String = "") throws(RegistryError) -> RegistryCredentials? {
        let normalized = Dictionary(auths.map { (Self.normalizedKey($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
        var components = repository.split(separator: "/").map(String.init)
        while true {
            let key = ([host] + components).joined(separator: "/")
            if let entry = normalized[key] { return try decode(entry, key: key) }
            if components.isEmpty { return nil }
            components.removeLast()
        }
    }

    private func decode(_ entry: JSONValue, key: String) throws(RegistryError) -> RegistryCredentials? {
        guard case let .object(fields) = entry else { throw RegistryError.credentials(source: source, detail: "the entry for \(key) is not an object") }
        guard case let .string(auth)? = fields["auth"], !auth.isEmpty else { return nil }
        guard let credentials = RegistryCredentials.decode(auth, source: source) else {
            throw RegistryError.credentials(source: source, detail: "the entry for \(key) is not base64 of user:password")
        }
        return credentials
    }

    /// `https://host/` → `host`: Docker's config.json writes URLs.
    public static func normalizedKey(_ key: String) -> String {
        var key = Substring(key)
        for scheme in ["https://", "http://"] where key.hasPrefix(scheme) { key = key.dropFirst(scheme.count) }
        while key.hasSuffix("/") { key = key.dropLast() }
        return String(key)
    }

    /// Sets (credentials) or removes (nil) the entry of `key`; true when something changed.
    @discardableResult
    public mutating func set(_ key: String, _ credentials: RegistryCredentials?) -> Bool {
        var auths = self.auths
        let matching = auths.keys.filter { Self.normalizedKey($0) == key }
        for old in matching { auths[old] = nil }
        if let credentials { auths[key] = .object(["auth": .string(credentials.encoded)]) }
        document["auths"] = .object(auths)
        return credentials != nil || !matching.isEmpty
    }

    /// Drops every registry's entry (`logout --all`).
    public mutating func removeAll() { document["auths"] = .object([:]) }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(JSONValue.object(document))) + [0x0a]
    }
}

extension AuthFile {
    /// Reads `path`; a missing file is an empty authfile unless `mustExist`.
    public static func load(_ path: String, mustExist: Bool) throws(RegistryError) -> AuthFile {
        let source = "authfile \(path)"
        guard Files.exists(path) else {
            if mustExist { throw RegistryError.credentials(source: source, detail: "no such file") }
            return AuthFile(source: source)
        }
        let bytes: [UInt8]
        do { bytes = try Files.read(path, limit: maxBytes) } catch { throw RegistryError.credentials(source: source, detail: "\(error)") }
        return try parse(bytes, source: source)
    }

    /// Writes to `path` atomically with mode 0600, creating its directory (0700) if needed.
    public func save(_ path: String) throws(RegistryError) {
        do {
            let directory = Files.parent(of: path)
            if !Files.isDirectory(directory) { try Files.makeDirectories(directory, mode: 0o700) }
            try Files.writeAtomically(path, try encoded(), mode: 0o600)
        } catch {
            throw RegistryError.file(path: path, detail: "write authfile: \(error)")
        }
    }
}
