import Foundation
import CrpodArchive
import CrpodLinux
import Testing

@Suite("image pull and push against a local registry", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct ImageRegistryTests {
    @Test("push an imported image to docker-registry, remove it, pull it back (same ID) and run it; a tampered blob in the registry fails the pull and leaves nothing")
    func pushPullRun() async throws {
        try await withCrpod { crpod in
            let registry = try RegistryProcess(crpod)
            defer { registry.stop() }
            #expect(try await registry.waitListening(), "registry on \(registry.host): \((try? Files.readText(crpod.base + "/registry.log")) ?? "")")
            let (layer, id) = try await crpod.importBusybox(as: "localhost/busybox:it")
            let remote = "\(registry.host)/test/busybox:it"
            let secure = try await crpod.run(["image", "push", "--tls-verify=true", "localhost/busybox:it", remote])
            #expect(!secure.ok, "HTTPS (forced on a loopback registry) to a plain-HTTP registry fails")
            let pushed = try await crpod.ok(["image", "push", "localhost/busybox:it", remote])
            #expect(pushed.hasPrefix("sha256:"))
            #expect(try await crpod.ok(["image", "push", "--tls-verify=false", id, remote]) == pushed, "a second push uploads nothing new and gives the same digest")
            try await crpod.ok(["image", "rm", id])
            #expect(try crpod.imageStoreContents() == [])

            #expect(try await crpod.ok(["image", "pull", "--tls-verify=false", remote]) == id)
            #expect(try await crpod.ok(["image", "pull", "--tls-verify=false", "\(registry.host)/test/busybox@\(pushed)"]) == id, "by digest")
            try await crpod.ok(["run", "--name", "c", "--image", remote, "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            try await crpod.ok(["rm", "-f", "c"])
            try await crpod.ok(["image", "rm", id])

            var bytes = try Files.read(registry.blobFile(layer.digest), limit: 64 << 20)
            bytes[bytes.count / 2] ^= 0xff
            try Files.writeAtomically(registry.blobFile(layer.digest), bytes, mode: 0o644)
            let tampered = try await crpod.run(["image", "pull", "--tls-verify=false", remote])
            #expect(!tampered.ok && tampered.stderr.contains("does not match its digest: expected sha256:\(layer.digest)"), "\(tampered.stderr)")
            #expect(try crpod.imageStoreContents() == [])
            #expect(try Files.listDirectory(crpod.imageStore + "/pulls") == [], "the pull's layout is removed")
            let missing = try await crpod.run(["image", "pull", "--tls-verify=false", "\(registry.host)/test/nothing:1"])
            #expect(!missing.ok && missing.stderr.contains("HTTP 404"), "\(missing.stderr)")
        }
    }

    @Test("token auth: the registry's Bearer challenge is answered from its realm; the pushed image pulls back with the same ID")
    func tokenAuth() async throws {
        try await withCrpod { crpod in
            let tokens = try await TokenServer(crpod, repository: "test/busybox")
            defer { tokens.stop() }
            let registry = try RegistryProcess(crpod, tokenRealm: tokens.realm, tokenCertificate: tokens.certificate)
            defer { registry.stop() }
            #expect(try await registry.waitListening())
            let id = try await crpod.importBusybox(as: "localhost/busybox:it").id
            let remote = "\(registry.host)/test/busybox:it"
            try await crpod.ok(["image", "push", "--tls-verify=false", id, remote])
            try await crpod.ok(["image", "rm", id])
            #expect(try await crpod.ok(["image", "pull", "--tls-verify=false", remote]) == id)
            let other = try await crpod.run(["image", "pull", "--tls-verify=false", "\(registry.host)/test/other:it"])
            #expect(!other.ok && other.stderr.contains("HTTP 401"), "a token without access to the repository is refused: \(other.stderr)")
        }
    }

    @Test("HTTPS with a private CA: push, pull and login with --tls-verify=true --cert-dir; without the CA the push is refused naming the registry and the fixes")
    func privateCA() async throws {
        try await withCrpod { crpod in
            let ca = try await TestCA(crpod.base + "/tls")
            let registry = try RegistryProcess(crpod, tls: (ca.serverCertificate, ca.serverKey))
            defer { registry.stop() }
            #expect(try await registry.waitListening())
            let id = try await crpod.importBusybox(as: "localhost/busybox:it").id
            let remote = "\(registry.host)/test/busybox:tls"
            let untrusted = try await crpod.run(["image", "push", "--tls-verify=true", id, remote])
            #expect(!untrusted.ok && untrusted.stderr.contains("the TLS certificate of registry \(registry.host) does not verify")
                && untrusted.stderr.contains("--cert-dir") && untrusted.stderr.contains("/etc/containers/certs.d/\(registry.host)")
                && untrusted.stderr.contains("--tls-verify=false"), "\(untrusted.stderr)")
            let pushed = try await crpod.ok(["image", "push", "--tls-verify=true", "--cert-dir", ca.certDir, id, remote])
            #expect(pushed.hasPrefix("sha256:"))
            try await crpod.ok(["image", "rm", id])
            #expect(try await crpod.ok(["image", "pull", "--tls-verify=true", "--cert-dir", ca.certDir, remote]) == id)
            try await crpod.ok(["login", "--tls-verify=true", "--cert-dir", ca.certDir, "--authfile", crpod.base + "/auth.json", "-u", "u", "-p", "p", registry.host])
            let absent = try await crpod.run(["image", "pull", "--tls-verify=true", "--cert-dir", crpod.base + "/no-certs", remote])
            #expect(!absent.ok && absent.stderr.contains(crpod.base + "/no-certs: --cert-dir: no such directory"), "\(absent.stderr)")
        }
    }
}
