#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A user name and password for one registry, and where they came from (`--creds`, an
/// authfile). `description` never shows the password: errors and logs print this.
public struct RegistryCredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String
    /// Where they came from, for messages: `--creds`, `authfile /run/containers/0/auth.json`.
    public var source: String

    public init(username: String, password: String, source: String) {
        self.username = username
        self.password = password
        self.source = source
    }

    /// `--creds USER[:PASSWORD]`: the password is everything after the first colon; without
    /// one, `password` (read from stdin by `--password-stdin`) must be given.
    public static func parse(_ text: String, password: String?, source: String = "--creds") throws(RegistryError) -> RegistryCredentials {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let username = parts.first, !username.isEmpty else {
            throw RegistryError.credentials(source: source, detail: "expected USER[:PASSWORD], the user name is empty")
        }
        if parts.count == 2 && password != nil {
            throw RegistryError.credentials(source: source, detail: "the password is given twice (USER:PASSWORD and --password-stdin)")
        }
        guard let chosen = parts.count == 2 ? parts[1] : password, !chosen.isEmpty else {
            throw RegistryError.credentials(source: source, detail: "no password for \(username): give USER:PASSWORD or pipe it to --password-stdin")
        }
        return RegistryCredentials(username: username, password: chosen, source: source)
    }

    /// `auth` of an authfile entry: base64 of `user:password`.
    public var encoded: String { Data("\(username):\(password)".utf8).base64EncodedString() }

    /// The `Authorization` header value of HTTP Basic auth.
    public var basicAuthorization: String { "Basic " + encoded }

    /// Decodes an authfile's `auth` value; nil when it is not base64 of `user:password`.
    public static func decode(_ auth: String, source: String) -> RegistryCredentials? {
        guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return nil }
        return RegistryCredentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]), source: source)
    }

    public var description: String { "user \(username) from \(source)" }
}

/// Where a pull or push looks for credentials: `--creds` wins; else the authfile
/// (`--authfile`, else `$REGISTRY_AUTH_FILE`, the config's `registry_auth_file`, podman's
/// default) has an entry for the registry or not.
public struct RegistryAuth: Sendable, Equatable {
    public var credentials: RegistryCredentials?
    /// An authfile named by the user (a flag or the config): it must exist.
    public var authFile: String?
    /// `--cert-dir`: the registry's CA files are read from here instead of certs.d (RegistryTrust).
    public var certDir: String?
    /// The registries (`host[:port]`) this call may contact — the daemon's `allow_registry`
    /// lines; nil: any.
    public var allowedHosts: [String]?

    public init(credentials: RegistryCredentials? = nil, authFile: String? = nil, certDir: String? = nil, allowedHosts: [String]? = nil) {
        self.credentials = credentials
        self.authFile = authFile
        self.certDir = certDir
        self.allowedHosts = allowedHosts
    }

    /// Throws `.notAllowed` unless `host` is among `allowedHosts` (case-insensitive) or they are nil.
    public func checkAllowed(host: String, reference: String) throws(RegistryError) {
        guard let allowedHosts, !allowedHosts.contains(where: { $0.lowercased() == host.lowercased() }) else { return }
        throw .notAllowed(host: host, reference: reference, allowed: allowedHosts)
    }

    /// podman's default authfile for this user: `$REGISTRY_AUTH_FILE`, else
    /// `/run/containers/0/auth.json` for root, `$XDG_RUNTIME_DIR/containers/auth.json` for others.
    public static func defaultAuthFile(environment: [String: String], uid: UInt32) -> String? {
        if let path = environment["REGISTRY_AUTH_FILE"], !path.isEmpty { return path }
        if uid == 0 { return "/run/containers/0/auth.json" }
        guard let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty else { return nil }
        return runtime + "/containers/auth.json"
    }
}
