import CrpodLinux
import Testing
@testable import CrpodRegistry

/// A registry's CA files (containers-certs.d): where they are looked for, which files count,
/// and that a file that is not a PEM certificate is refused naming it.
@Suite("registry CA trust (certs.d, --cert-dir)")
struct RegistryTrustTests {
    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBkTCCATegAwIBAgIULfMXhvj9ZzXVxBtQs7Cf04A15wMwCgYIKoZIzj0EAwIw
        HTEbMBkGA1UEAwwSY3Jwb2QtdW5pdC10ZXN0LWNhMCAXDTI2MTIwNTAxNDIwNVoY
        DzIxMjYxMTExMDE0MjA1WjAdMRswGQYDVQQDDBJjcnBvZC11bml0LXRlc3QtY2Ew
        WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQG4vl7yK+DoBDTULzGyAWeFcHladuc
        VZ588Lq4rh5s9Ai7ysTeJqPl3zftiKYDZUtlW/EI3VkhanWS+K6UIqcSo1MwUTAd
        BgNVHQ4EFgQU0xQhEwNhWt6xdCLIwJxidBcX3EIwHwYDVR0jBBgwFoAU0xQhEwNh
        Wt6xdCLIwJxidBcX3EIwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
        AiAOkW/gPHU7qa2TJGj2cnS85dKYpQh4Hgs+YKFVa7euSwIhAJiC5lxx7mjVtjVO
        AueGrpvlEPBNh6sBM+/Ujl+5NmP0
        -----END CERTIFICATE-----

        """

    @Test("directories: --cert-dir alone, else HOST[:PORT] under the containers and docker certs.d", arguments: [
        ("r.test", nil, ["/etc/containers/certs.d/r.test", "/etc/docker/certs.d/r.test"]),
        ("r.test:5000", nil, ["/etc/containers/certs.d/r.test:5000", "/etc/docker/certs.d/r.test:5000"]),
        ("r.test:5000", "/srv/ca", ["/srv/ca"]),
    ] as [(String, String?, [String])])
    func directories(host: String, certDir: String?, expected: [String]) {
        #expect(RegistryTrust.directories(host: host, certDir: certDir) == expected)
    }

    @Test("CA files: *.crt only (not client .cert/.key, not hidden), in name order")
    func caFileNames() {
        #expect(RegistryTrust.caFileNames(["z.crt", "client.cert", "client.key", ".hidden.crt", "a.crt", "ca.pem", "crt"]) == ["a.crt", "z.crt"])
    }

    @Test("load reads the CA files of --cert-dir; a missing --cert-dir is an error naming it")
    func load() throws {
        let directory = try Files.makeTemporaryDirectory(in: "/tmp", prefix: "crpod-trust-")
        defer { try? Files.removeTree(directory) }
        try Files.writeAtomically(directory + "/ca.crt", Array(Self.certificate.utf8), mode: 0o644)
        try Files.writeAtomically(directory + "/client.key", Array("not read".utf8), mode: 0o600)
        let trust = try RegistryTrust.load(host: "r.test", certDir: directory)
        #expect(trust.caFiles == [.init(path: directory + "/ca.crt", pem: Array(Self.certificate.utf8))])
        #expect(trust.directories == [directory])
        let missing = directory + "/absent"
        #expect(throws: RegistryError.self) { try RegistryTrust.load(host: "r.test", certDir: missing) }
        do { _ = try RegistryTrust.load(host: "r.test", certDir: missing) } catch {
            #expect("\(error)" == "\(missing): --cert-dir: no such directory")
        }
        #expect(try RegistryTrust.load(host: "unknown.registry.test", certDir: nil).caFiles == [], "no certs.d entry: no CA files, no error")
    }

    #if Registry
    @Test("the client takes a PEM CA file; one that is not PEM is refused naming the file")
    func clientParsesPEM() throws {
        let paths = RegistryPaths(host: "r.test", secure: true)
        let good = RegistryTrust(caFiles: [.init(path: "/certs/ca.crt", pem: Array(Self.certificate.utf8))])
        #expect(try RegistryClient.tlsConfiguration(good) != nil)
        #expect(try RegistryClient.tlsConfiguration(RegistryTrust()) == nil, "no CA files: the client's default configuration")
        for bad in ["", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", "hello"] {
            let trust = RegistryTrust(caFiles: [.init(path: "/certs/bad.crt", pem: Array(bad.utf8))])
            do {
                _ = try RegistryClient(paths: paths, trust: trust)
                Issue.record("a bad PEM file was accepted: \(bad)")
            } catch {
                #expect("\(error)" == "/certs/bad.crt: not a PEM CA certificate")
            }
        }
    }
    #endif

    @Test("the untrusted-certificate message names the registry and the three ways out")
    func untrustedMessage() {
        let error = RegistryError.untrustedCertificate(host: "r.test:5000", url: "https://r.test:5000/v2/", detail: "certificate verify failed",
                                                       directories: ["/etc/containers/certs.d/r.test:5000", "/etc/docker/certs.d/r.test:5000"])
        #expect("\(error)" == "https://r.test:5000/v2/: the TLS certificate of registry r.test:5000 does not verify (certificate verify failed); "
                + "trust its CA with --cert-dir DIR or a CA.crt in /etc/containers/certs.d/r.test:5000 or /etc/docker/certs.d/r.test:5000, "
                + "or use --tls-verify=false (plain HTTP) if the registry serves HTTP")
    }
}
