#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// A pull killed (SIGKILL) while a blob is arriving leaves its download directory and lease
/// under `<root>/images/pulls/`; the next pull finds the lease free and removes both.
@Suite("an interrupted pull", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct ImagePullInterruptTests {
    static let script = Files.parent(of: Files.parent(of: Files.parent(of: #filePath))) + "/Tests/Fixtures/registry/slow-registry.py"

    @Test("kill -9 during a blob download: the download stays until the next pull, which removes it (and a live pull's is kept)")
    func killedPullIsClearedByTheNextPull() async throws {
        try await withCrpod { crpod in
            let port = TestPorts.unused()
            let marker = crpod.base + "/blob-started"
            let registry = try ChildProcess("/usr/bin/python3", [Self.script, "\(port)", marker])
            defer { registry.killAndReap() }
            try #require(try await portAccepts(port), "slow registry on \(port)")

            let pulls = crpod.imageStore + "/pulls"
            let first = try startPull(crpod, "127.0.0.1:\(port)/test/slow:1")
            #expect(try await eventually(seconds: 30) { Files.exists(marker) }, "the pull reached a blob")
            await first.kill()
            let left = try Files.listDirectory(pulls)
            #expect(left.contains { $0.hasPrefix("pull-") && !$0.hasSuffix(".lease") } && left.contains { $0.hasSuffix(".lease") }, "\(left)")

            unlink(marker)
            let live = try startPull(crpod, "127.0.0.1:\(port)/test/slow:2")
            #expect(try await eventually(seconds: 30) { Files.exists(marker) }, "the second pull reached a blob")
            let missing = try await crpod.run(["image", "pull", "--tls-verify=false", "127.0.0.1:\(port)/test/slow:missing"])
            #expect(!missing.ok && missing.stderr.contains("HTTP 404"), "\(missing.stderr)")
            let kept = try Files.listDirectory(pulls)
            #expect(kept.count == 2 && !kept.contains { left.contains($0) }, "only the live pull's directory and lease remain: \(kept), killed: \(left)")
            await live.kill()
            try await crpod.run(["image", "pull", "--tls-verify=false", "127.0.0.1:\(port)/test/slow:missing"])
            #expect(try Files.listDirectory(pulls) == [], "both killed pulls are cleared")
        }
    }

    /// `crpod image pull --tls-verify=false REF` in the background.
    func startPull(_ crpod: CrpodInstance, _ reference: String) throws -> ChildProcess {
        try ChildProcess(crpod.crpod, ["image", "pull", "--root", crpod.root, "--run-root", crpod.runRoot, "--config", crpod.base + "/crpod.conf",
                                       "--tls-verify=false", reference])
    }
}
