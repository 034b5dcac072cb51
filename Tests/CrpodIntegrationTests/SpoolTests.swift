#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// A datagram socket standing in for systemd's NOTIFY_SOCKET.
final class NotifyListener: @unchecked Sendable {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(rc == 0)
    }

    deinit { close(fd); unlink(path) }

    /// WATCHDOG=1 datagrams skipped by `receive(where:)` so far.
    private(set) var pings = 0

    /// The next datagram matching `wanted` (others are counted as pings), or nil after `seconds`;
    /// polled on a thread of its own (one test at a time uses a listener).
    func receive(seconds: Int32 = 10, where wanted: @escaping @Sendable (String) -> Bool = { _ in true }) async -> String? {
        (try? await BlockingThread.run("receive on \(path)") { _ in self.receiveBlocking(seconds: seconds, where: wanted) }) ?? nil
    }

    private func receiveBlocking(seconds: Int32, where wanted: (String) -> Bool) -> String? {
        while true {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, seconds * 1000) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { return nil }
            let message = String(decoding: buffer[0..<n], as: UTF8.self)
            if wanted(message) { return message }
            pings += 1
        }
    }
}

@Suite("auto-restore spool daemon", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct SpoolTests {
    @Test("archives renamed into the spool are restored into the right pod, once; bad ones land in failed/")
    func spoolRestores() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            try await crpod.ok(["pod", "create", "pc"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let spool = crpod.base + "/spool"
            try Files.makeDirectories(spool, mode: 0o700)
            let listener = try NotifyListener(path: crpod.base + "/notify.sock")
            let daemon = try ChildProcess(
                crpod.crpod, ["daemon", "--root", crpod.root, "--run-root", crpod.runRoot, "--config", crpod.base + "/crpod.conf", "--watch", spool + ":pb"],
                environment: ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "300000"]) { $1 },
                errorOutput: crpod.base + "/daemon.log")
            defer { daemon.killAndReap() }
            let ready = try #require(await listener.receive { $0.contains("READY=1") })
            #expect(ready.hasSuffix("READY=1") && ready.contains("watching"), "notify: \(ready)")

            // A partial file is ignored; renamed to its final name it is restored into the directory's pod.
            try Files.writeAtomically(spool + "/one.tar.zst.part", try Files.read(archive))
            try #require(rename(spool + "/one.tar.zst.part", spool + "/one.tar.zst") == 0)
            #expect(try await eventually { Files.exists(spool + "/done/one.tar.zst.result.json") })
            // A sidecar sends the next copy elsewhere — but it is the same archive: never restored twice.
            try Files.writeAtomically(spool + "/two.tar.zst.target", Array("pc\n".utf8))
            try Files.writeAtomically(spool + "/two.tar.zst", try Files.read(archive))
            #expect(try await eventually { Files.exists(spool + "/done/two.tar.zst.result.json") })
            #expect(try Files.readText(spool + "/done/two.tar.zst.result.json").contains("\"duplicateOf\" : \"one.tar.zst\""))
            // Garbage lands in failed/ with its reason.
            try Files.writeAtomically(spool + "/bad.tar.zst", Array("not an archive".utf8))
            #expect(try await eventually { Files.exists(spool + "/failed/bad.tar.zst.result.json") })
            #expect(try Files.readText(spool + "/failed/bad.tar.zst.result.json").contains("\"error\""))
            #expect(Files.exists(spool + "/failed/bad.tar.zst"), "never deleted")

            let restored = try await crpod.ok(["ps", "--format", "json"])
            let containers = try JSONDecoder().decode([ContainerJSON].self, from: Data(restored.utf8))
            let podB = try await crpod.json(PodJSON.self, ["pod", "inspect", "pb"]).id
            #expect(containers.filter { $0.pod == podB }.count == 1, "restored once, into pb")

            kill(daemon.processIdentifier, SIGTERM)
            #expect(await listener.receive { $0 != "WATCHDOG=1" }?.hasPrefix("STOPPING=1") == true)
            #expect(listener.pings > 0, "WATCHDOG=1 sent every half of WATCHDOG_USEC while it ran")
            await daemon.exited()
            #expect(daemon.terminationStatus == 0)
        }
    }
}
