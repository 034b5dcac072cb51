import Foundation
import CrpodLinux
import Testing

/// Registries that want credentials: distribution with `auth: htpasswd` (HTTP Basic) and a
/// token realm that wants Basic credentials before it hands out a Bearer token.
@Suite("image pull and push with registry credentials", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct RegistryCredentialTests {
    static let password = "s3cret pw:with colon"

    @Test("htpasswd registry: without credentials refused naming the host; a wrong password refused without echoing it; --creds, --password-stdin, --authfile, $REGISTRY_AUTH_FILE work, restore --image takes --creds")
    func basicAuth() async throws {
        try await withCrpod { crpod in
            let registry = try RegistryProcess(crpod, htpasswd: try await RegistryProcess.htpasswd(crpod, user: "alice", password: Self.password))
            defer { registry.stop() }
            let (id, remote, push) = try await Self.prepare(crpod, registry)
            let wrong = try await crpod.run(push + ["--creds", "alice:wrong-pw-4711"])
            #expect(!wrong.ok && wrong.stderr.contains("credentials refused by \(registry.host) (user alice from --creds)"), "\(wrong.stderr)")
            #expect(!wrong.stderr.contains("wrong-pw-4711") && !wrong.stdout.contains("wrong-pw-4711"), "the password is never printed")
            let missingFile = try await crpod.run(push + ["--authfile", crpod.base + "/nothing.json"])
            #expect(!missingFile.ok && missingFile.stderr.contains("authfile \(crpod.base)/nothing.json: no such file"), "\(missingFile.stderr)")

            try await crpod.ok(push + ["--creds", "alice:" + Self.password])
            try await crpod.ok(["image", "rm", id])
            let piped = try await Self.piped(crpod, input: Self.password + "\n", ["image", "pull", "--tls-verify=false", "--creds", "alice", "--password-stdin", remote])
            #expect(piped.ok && piped.trimmed == id, "--password-stdin: \(piped.stderr)")
            try await crpod.ok(["image", "rm", id])

            let authfile = crpod.base + "/auth.json"
            let auth = Data("alice:\(Self.password)".utf8).base64EncodedString()
            try Files.writeAtomically(authfile, Array(#"{"auths": {"\#(registry.host)": {"auth": "\#(auth)"}}}"#.utf8))
            #expect(try await crpod.ok(["image", "pull", "--tls-verify=false", "--authfile", authfile, remote]) == id)
            try await crpod.ok(["image", "rm", id])
            let fromEnvironment = try await crpod.run(["image", "pull", "--tls-verify=false", remote], environment: ["REGISTRY_AUTH_FILE": authfile])
            #expect(fromEnvironment.ok && fromEnvironment.trimmed == id, "$REGISTRY_AUTH_FILE: \(fromEnvironment.stderr)")

            try await crpod.ok(["image", "rm", id])
            let restoreAnonymous = try await crpod.run(["restore", "--image", remote, "--tls-verify=false"])
            #expect(!restoreAnonymous.ok && restoreAnonymous.stderr.contains("no credentials for \(registry.host)"), "\(restoreAnonymous.stderr)")
            let restore = try await crpod.run(["restore", "--image", remote, "--tls-verify=false", "--creds", "alice:" + Self.password])
            #expect(!restore.ok && restore.stderr.contains("is not a checkpoint image"), "restore --image pulls with --creds, then refuses busybox: \(restore.stderr)")
        }
    }

    @Test("htpasswd over HTTPS with a private CA (what real registries are): anonymous and wrong credentials refused, --creds pushes, login writes the authfile and pull takes it")
    func basicAuthOverTLS() async throws {
        try await withCrpod { crpod in
            let ca = try await TestCA(crpod.base + "/tls")
            let registry = try RegistryProcess(crpod, htpasswd: try await RegistryProcess.htpasswd(crpod, user: "alice", password: Self.password),
                                               tls: (ca.serverCertificate, ca.serverKey))
            defer { registry.stop() }
            #expect(try await registry.waitListening())
            let id = try await crpod.importBusybox(as: "localhost/busybox:it").id
            let remote = "\(registry.host)/test/busybox:tls"
            let push = ["image", "push", "--tls-verify=true", "--cert-dir", ca.certDir, id, remote]
            let anonymous = try await crpod.run(push)
            #expect(!anonymous.ok && anonymous.stderr.contains("no credentials for \(registry.host): use --creds or --authfile"), "\(anonymous.stderr)")
            let wrong = try await crpod.run(push + ["--creds", "alice:wrong-pw-4711"])
            #expect(!wrong.ok && wrong.stderr.contains("credentials refused by \(registry.host)") && !wrong.stderr.contains("wrong-pw-4711"), "\(wrong.stderr)")
            #expect(try await crpod.ok(push + ["--creds", "alice:" + Self.password]).hasPrefix("sha256:"))
            try await crpod.ok(["image", "rm", id])

            let authfile = crpod.base + "/auth.json"
            try await crpod.ok(["login", "--tls-verify=true", "--cert-dir", ca.certDir, "--authfile", authfile, "-u", "alice", "-p", Self.password, registry.host])
            #expect(try await crpod.ok(["image", "pull", "--tls-verify=true", "--cert-dir", ca.certDir, "--authfile", authfile, remote]) == id)
        }
    }

    @Test("a token realm that wants Basic credentials: refused without or with wrong ones (naming the realm), push and pull with them; login through it")
    func tokenRealmWithCredentials() async throws {
        try await withCrpod { crpod in
            let tokens = try await TokenServer(crpod, repository: "test/busybox", credentials: "bob:" + Self.password)
            defer { tokens.stop() }
            let registry = try RegistryProcess(crpod, tokenRealm: tokens.realm, tokenCertificate: tokens.certificate)
            defer { registry.stop() }
            let (id, remote, push) = try await Self.prepare(crpod, registry)
            let wrong = try await crpod.run(push + ["--creds", "bob:nope"])
            #expect(!wrong.ok && wrong.stderr.contains("credentials refused by \(tokens.realm) (user bob from --creds)"), "\(wrong.stderr)")
            try await crpod.ok(push + ["--creds", "bob:" + Self.password])
            try await crpod.ok(["image", "rm", id])
            #expect(try await crpod.ok(["image", "pull", "--tls-verify=false", "--creds", "bob:" + Self.password, remote]) == id)

            let authfile = crpod.base + "/auth.json"
            let login = ["login", "--tls-verify=false", "--authfile", authfile, "-u", "bob", registry.host]
            let refused = try await crpod.run(login + ["-p", "nope"])
            #expect(!refused.ok && refused.stderr.contains("credentials refused by \(tokens.realm) (user bob from crpod login)"), "\(refused.stderr)")
            #expect(try await crpod.ok(login + ["-p", Self.password]) == "Login Succeeded!", "login through the token realm")
            try await crpod.ok(["image", "rm", id])
            #expect(try await crpod.ok(["image", "pull", "--tls-verify=false", "--authfile", authfile, remote]) == id)
        }
    }

    @Test("login checks the credentials and writes a 0600 authfile keeping other entries; pull then needs only --authfile, the daemon its registry_auth_file; logout removes the entry")
    func loginLogout() async throws {
        try await withCrpod { crpod in
            let registry = try RegistryProcess(crpod, htpasswd: try await RegistryProcess.htpasswd(crpod, user: "alice", password: Self.password))
            defer { registry.stop() }
            let (id, remote, _) = try await Self.prepare(crpod, registry)
            let authfile = crpod.base + "/auth/auth.json"
            try Files.makeDirectories(crpod.base + "/auth", mode: 0o700)
            try Files.writeAtomically(authfile, Array(#"{"auths": {"other.test": {"auth": "eDp5"}}, "credHelpers": {"a": "b"}}"#.utf8), mode: 0o644)

            let refused = try await crpod.run(["login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "-p", "wrong-pw-4711", registry.host])
            #expect(!refused.ok && refused.stderr.contains("credentials refused by \(registry.host) (user alice from crpod login)"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("wrong-pw-4711"))
            #expect(!(try Files.readText(authfile)).contains(registry.host), "refused credentials are not written")
            let login = try await Self.piped(crpod, input: Self.password, ["login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "--password-stdin", registry.host])
            #expect(login.ok && login.stdout.contains("Login Succeeded!"), "\(login.stderr)")
            #expect(try Self.mode(authfile) == 0o600)
            let written = try JSONSerialization.jsonObject(with: Data(try Files.read(authfile))) as? [String: Any]
            let auths = written?["auths"] as? [String: [String: String]]
            #expect(auths?[registry.host]?["auth"] == Data("alice:\(Self.password)".utf8).base64EncodedString())
            #expect(auths?["other.test"]?["auth"] == "eDp5" && written?["credHelpers"] != nil, "other entries and keys are kept")

            try await crpod.ok(["image", "push", "--tls-verify=false", "--authfile", authfile, id, remote])
            try await crpod.ok(["image", "rm", id])
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(crpod.base)", "registry_auth_file = \(authfile)"])
            let passed = try await crpod.run(["image", "pull", "--remote", daemon.socket, "--tls-verify=false", "--creds", "alice:x", remote])
            #expect(!passed.ok && passed.stderr.contains("the daemon uses its own registry_auth_file"), "\(passed.stderr)")
            #expect(try await crpod.ok(["image", "pull", "--remote", daemon.socket, "--tls-verify=false", remote]) == id, "the daemon's registry_auth_file")
            #expect(await daemon.stop() == 0)
            try await crpod.ok(["image", "rm", id])

            #expect(try await crpod.ok(["logout", "--authfile", authfile, registry.host]) == "Removed login credentials for \(registry.host)")
            let again = try await crpod.run(["logout", "--authfile", authfile, registry.host])
            #expect(!again.ok && again.stderr.contains("not logged in to \(registry.host)"), "\(again.stderr)")
            let text = try Files.readText(authfile)
            #expect(!text.contains(registry.host) && text.contains("other.test"), "\(text)")
            let anonymous = try await crpod.run(["image", "pull", "--tls-verify=false", "--authfile", authfile, remote])
            #expect(!anonymous.ok && anonymous.stderr.contains("no credentials for \(registry.host): use --creds or --authfile (no entry for \(registry.host) in authfile \(authfile))"),
                    "\(anonymous.stderr)")
        }
    }

    /// Waits for the registry, imports busybox; its ID, the remote reference, the push arguments.
    /// An anonymous push is refused naming the registry.
    static func prepare(_ crpod: CrpodInstance, _ registry: RegistryProcess) async throws -> (id: String, remote: String, push: [String]) {
        #expect(try await registry.waitListening())
        let id = try await crpod.importBusybox(as: "localhost/busybox:it").id
        let remote = "\(registry.host)/test/busybox:it"
        let push = ["image", "push", "--tls-verify=false", id, remote]
        let anonymous = try await crpod.run(push)
        #expect(!anonymous.ok && anonymous.stderr.contains("no credentials for \(registry.host): use --creds or --authfile"), "\(anonymous.stderr)")
        return (id, remote, push)
    }

    /// `crpod ARGUMENTS` (with the instance's state options) reading `input` on stdin.
    static func piped(_ crpod: CrpodInstance, input: String, _ arguments: [String]) async throws -> CrpodInstance.Outcome {
        let state = ["--root", crpod.root, "--run-root", crpod.runRoot, "--config", crpod.base + "/crpod.conf"]
        let split = arguments.first == "image" ? 2 : 1
        let argv = Array(arguments.prefix(split)) + state + Array(arguments.dropFirst(split))
        let result = try await crpod.runner.run("/bin/sh", ["-c", #"printf %s "$CRPOD_TEST_INPUT" | "$@""#, "sh", crpod.crpod] + argv,
                                                environment: ["CRPOD_TEST_INPUT": input])
        return CrpodInstance.Outcome(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    static func mode(_ path: String) throws -> mode_t {
        var info = stat()
        try #require(stat(path, &info) == 0)
        return info.st_mode & 0o7777
    }
}
