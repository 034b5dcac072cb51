import CrpodLinux

/// CA certificates a registry is trusted by on top of the system's roots, found the
/// containers-certs.d(5) way: every `*.crt` in `/etc/containers/certs.d/HOST[:PORT]/` (and
/// Docker's `/etc/docker/certs.d/HOST[:PORT]/`), or in the one directory `--cert-dir` names.
/// Client certificates (`*.cert`/`*.key`) are not read.
public struct RegistryTrust: Sendable, Equatable {
    /// One `*.crt` file: its path (for errors) and its PEM text, parsed by the client.
    public struct CAFile: Sendable, Equatable {
        public var path: String
        public var pem: [UInt8]

        public init(path: String, pem: [UInt8]) {
            self.path = path
            self.pem = pem
        }
    }

    public var caFiles: [CAFile]
    /// The directories looked in, for the error that says how to trust a registry.
    public var directories: [String]

    public init(caFiles: [CAFile] = [], directories: [String] = []) {
        self.caFiles = caFiles
        self.directories = directories
    }

    public static let systemDirectories = ["/etc/containers/certs.d", "/etc/docker/certs.d"]

    /// The directories read for `host` (`host[:port]`, as in the reference): `certDir` alone
    /// when given, else `HOST` under each of `systemDirectories`.
    public static func directories(host: String, certDir: String?) -> [String] {
        if let certDir { return [certDir] }
        return systemDirectories.map { $0 + "/" + host }
    }

    /// The CA files among a directory's entries: `*.crt`, hidden ones skipped, in name order.
    public static func caFileNames(_ names: [String]) -> [String] {
        names.filter { $0.hasSuffix(".crt") && !$0.hasPrefix(".") }.sorted()
    }

    /// Reads the CA files for `host` (blocking: call it on a thread of its own). A `certDir`
    /// that is not a directory is an error naming it; a missing certs.d entry is skipped.
    public static func load(host: String, certDir: String?) throws -> RegistryTrust {
        let directories = directories(host: host, certDir: certDir)
        var files: [CAFile] = []
        for directory in directories {
            guard Files.isDirectory(directory) else {
                if certDir != nil { throw RegistryError.file(path: directory, detail: "--cert-dir: no such directory") }
                continue
            }
            for name in caFileNames(try Files.listDirectory(directory)) {
                let path = directory + "/" + name
                files.append(CAFile(path: path, pem: try Files.read(path, limit: 1 << 20)))
            }
        }
        return RegistryTrust(caFiles: files, directories: directories)
    }
}
