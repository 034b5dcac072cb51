/// The one error type of CrpodRegistry; every case names the URL it concerns.
public enum RegistryError: Error, Sendable, CustomStringConvertible {
    /// The registry answered with an unexpected status; `detail` is the start of its error body.
    case status(method: String, url: String, status: Int, detail: String)
    /// The request did not reach the registry or its answer broke off.
    case transport(method: String, url: String, detail: String)
    /// Token auth failed, or the registry asks for a scheme crpod does not speak.
    case authentication(url: String, detail: String)
    /// Content whose SHA-256 is not the digest that names it.
    case digestMismatch(url: String, expected: String, actual: String)
    /// A response body over the limit for its kind.
    case tooLarge(url: String, limit: Int64)
    /// A local file could not be read or written.
    case file(path: String, detail: String)
    /// Credentials that cannot be used as given: `--creds` text, an authfile (`source`).
    case credentials(source: String, detail: String)
    /// The registry (or its token endpoint `realm`) answered 401 to these credentials.
    case credentialsRefused(realm: String, credentials: RegistryCredentials)
    /// The registry wants credentials and none were found; `searched` says where crpod looked.
    case noCredentials(host: String, searched: String)
    /// The registry's TLS certificate did not verify against the system roots and the CA
    /// files in `directories` (RegistryTrust).
    case untrustedCertificate(host: String, url: String, detail: String, directories: [String])
    /// This crpod was built without the `Registry` trait: `operation` needs the client.
    case notBuiltIn(operation: String)
    /// The daemon's `allow_registry` lines do not list `host` (RegistryAuth.allowedHosts).
    case notAllowed(host: String, reference: String, allowed: [String])

    public var description: String {
        switch self {
        case let .status(method, url, status, detail):
            return "\(method) \(url): HTTP \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        case let .transport(method, url, detail):
            return "\(method) \(url): \(detail)"
        case let .authentication(url, detail):
            return "authentication for \(url) failed: \(detail)"
        case let .digestMismatch(url, expected, actual):
            return "\(url) does not match its digest: expected \(expected), got \(actual)"
        case let .tooLarge(url, limit):
            return "\(url) is larger than \(limit) bytes"
        case let .file(path, detail):
            return "\(path): \(detail)"
        case let .credentials(source, detail):
            return "\(source): \(detail)"
        case let .credentialsRefused(realm, credentials):
            return "credentials refused by \(realm) (\(credentials))"
        case let .noCredentials(host, searched):
            return "no credentials for \(host): use --creds or --authfile (\(searched))"
        case let .untrustedCertificate(host, url, detail, directories):
            return "\(url): the TLS certificate of registry \(host) does not verify (\(detail)); "
                + "trust its CA with --cert-dir DIR or a CA.crt in \(directories.joined(separator: " or ")), "
                + "or use --tls-verify=false (plain HTTP) if the registry serves HTTP"
        case let .notBuiltIn(operation):
            return "this crpod was built without registry support (contrib/build-static.sh --without-registry): "
                + "\(operation) needs a registry; bring images in with crpod image import (or use a full build)"
        case let .notAllowed(host, reference, allowed):
            return "registry \(host) (of \(reference)) is not allowed: the daemon pulls only from \(allowed.joined(separator: ", ")) (allow_registry in its config)"
        }
    }

    /// Throws `.notBuiltIn` before `operation` starts when this build has no registry client.
    public static func requireClient(for operation: String) throws(RegistryError) {
        if !RegistryClient.isBuiltIn { throw .notBuiltIn(operation: operation) }
    }
}
