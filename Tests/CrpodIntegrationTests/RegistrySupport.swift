#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodDrivers
import CrpodLinux
import Testing

/// Debian's `docker-registry` (distribution 2.8) serving plain HTTP (or HTTPS with `tls`) on
/// 127.0.0.1 from the test instance's directory, the way DaemonProcess runs the crpod daemon.
final class RegistryProcess {
    static let binary = "/usr/bin/docker-registry"
    let process: ChildProcess
    let port: Int
    let storage: String
    var host: String { "127.0.0.1:\(port)" }

    /// `tokenRealm`: the registry wants Bearer tokens from there, signed by `tokenCertificate`.
    /// `htpasswd`: it wants HTTP Basic credentials from that (bcrypt) file instead.
    /// `tls`: it serves HTTPS with that certificate and key (PEM files).
    init(_ crpod: CrpodInstance, tokenRealm: String? = nil, tokenCertificate: String? = nil, htpasswd: String? = nil,
         tls: (certificate: String, key: String)? = nil) throws {
        try #require(Files.exists(Self.binary), "docker-registry is not installed: run contrib/provision.sh")
        port = TestPorts.unused()
        storage = crpod.base + "/registry-\(port)"
        var config = """
            version: 0.1
            log: {level: warn}
            storage:
              filesystem: {rootdirectory: \(storage)}
            http:
              addr: 127.0.0.1:\(port)
            """
        if let tls { config += "\n  tls: {certificate: \(tls.certificate), key: \(tls.key)}" }
        if let tokenRealm, let tokenCertificate {
            config += """

                auth:
                  token: {realm: "\(tokenRealm)", service: \(TokenServer.service), issuer: \(TokenServer.issuer), rootcertbundle: \(tokenCertificate)}
                """
        } else if let htpasswd {
            config += """

                auth:
                  htpasswd: {realm: crpod-test-registry, path: \(htpasswd)}
                """
        }
        try Files.writeAtomically(crpod.base + "/registry-\(port).yml", Array(config.utf8))
        process = try ChildProcess(Self.binary, ["serve", crpod.base + "/registry-\(port).yml"], output: crpod.base + "/registry-\(port).log")
    }

    /// Waits until the port accepts connections, and the registry is the one listening: one that
    /// could not bind its port has exited.
    func waitListening() async throws -> Bool {
        let accepts = try await portAccepts(port)
        try await Task.sleep(for: .milliseconds(200))
        return accepts && process.isRunning
    }
}

/// Waits until 127.0.0.1:`port` accepts connections.
func portAccepts(_ port: Int) async throws -> Bool {
        try await eventually(seconds: 20) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }

extension RegistryProcess {
    /// A bcrypt htpasswd file (htpasswd -B, the only hash distribution accepts) for one user.
    static func htpasswd(_ crpod: CrpodInstance, user: String, password: String) async throws -> String {
        try #require(Files.exists("/usr/bin/htpasswd"), "htpasswd is not installed (apache2-utils): run contrib/provision.sh")
        let made = try await ToolRunner().run("/usr/bin/htpasswd", ["-Bbn", user, password])
        try #require(made.status == .exited(0), "htpasswd: \(made.stderr)")
        let path = crpod.base + "/htpasswd"
        try Files.writeAtomically(path, Array(made.stdout.utf8), mode: 0o644)
        return path
    }

    /// The registry's file of the blob `hex` (distribution's filesystem layout).
    func blobFile(_ hex: String) -> String {
        "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }

    /// SIGKILL and reap: bounded by the kernel's exit of a killed process, so a `defer` in an
    /// async test may call it (a SIGTERM'd registry could take its time on a pool thread).
    func stop() { process.killAndReap() }
}

/// A throwaway CA (`directory/ca/ca.crt`, the --cert-dir) and a server certificate it signed
/// for IP 127.0.0.1 (`directory/server.crt`, `server.key`), made by openssl with P-256 keys.
struct TestCA {
    let directory: String
    var certDir: String { directory + "/ca" }
    var serverCertificate: String { directory + "/server.crt" }
    var serverKey: String { directory + "/server.key" }

    init(_ directory: String) async throws {
        self.directory = directory
        try Files.makeDirectories(directory + "/ca", mode: 0o700)
        let script = """
            set -e; cd "$1"; key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
            openssl req -x509 $key -keyout ca.key -out ca/ca.crt -days 1 -subj /CN=crpod-test-ca
            openssl req $key -keyout server.key -out server.csr -subj /CN=127.0.0.1
            printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca/ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile server.ext -out server.crt
            """
        let made = try await ToolRunner().run("/bin/sh", ["-c", script, "sh", directory])
        try #require(made.status == .exited(0), "openssl: \(made.stderr)")
    }
}

/// A token endpoint for the registry's Bearer auth: `Tests/Fixtures/registry/make-token.sh`
/// makes a key, a self-signed certificate (the registry's root bundle) and a JWT granting
/// pull and push on one repository; `token-server.py` hands it out at `/token` (the query
/// the client adds is ignored), with `credentials` (USER:PASSWORD) only to a request that
/// sends them as HTTP Basic.
final class TokenServer {
    static let service = "crpod-test-registry"
    static let issuer = "crpod-test"
    static let script = Files.parent(of: Files.parent(of: Files.parent(of: #filePath))) + "/Tests/Fixtures/registry/make-token.sh"
    var process: ChildProcess?
    let port = TestPorts.unused()
    let directory: String
    var realm: String { "http://127.0.0.1:\(port)/token" }
    var certificate: String { directory + "/cert.pem" }

    init(_ crpod: CrpodInstance, repository: String, credentials: String? = nil) async throws {
        directory = crpod.base + "/token"
        try Files.makeDirectories(directory, mode: 0o700)
        let made = try await ToolRunner().run("/bin/sh", [Self.script, directory, Self.service, repository])
        try #require(made.status == .exited(0), "make-token.sh: \(made.stderr)")
        process = try ChildProcess("/usr/bin/python3", [Files.parent(of: Self.script) + "/token-server.py", "\(port)", directory] + (credentials.map { [$0] } ?? []))
        try #require(try await portAccepts(port), "token server on \(port)")
    }

    func stop() { process?.killAndReap() }
}
