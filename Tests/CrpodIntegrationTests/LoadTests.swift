#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Synchronization
import Testing

/// 50 restores into 5 pods in parallel through the daemon, while the CLI creates and removes
/// pods and containers: no failure caused by crpod, no PID collision, state and runc agree.
@Suite("load", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct LoadTests {
    @Test("50 parallel API restores into 5 pods with the CLI mutating at the same time")
    func fiftyRestores() async throws {
        try await withCrpod { crpod in
            for index in 0..<5 { try await crpod.ok(["pod", "create", "p\(index)"]) }
            let slow = ["sh", "-c", "i=0; while true; do echo count $i; i=$((i+1)); sleep 1; done"]
            try await crpod.ok(["run", "--name", "src", "--pod", "p0", "--rootfs", PrivilegedHost.rootfs, "--"] + slow)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "src"])) ?? 0 >= 1 })
            let archive = crpod.root + "/archives/src.tar.zst"
            try Files.makeDirectories(crpod.root + "/archives", mode: 0o700)
            try await crpod.ok(["checkpoint", "--export", archive, "src"])
            let daemon = try await DaemonProcess(crpod, config: ["max_jobs = 2", "max_queued = 64"])

            let statuses = Mutex<[Int: (Int, String)]>([:])
            let group = DispatchGroup()
            let socket = daemon.socket
            for index in 0..<50 {
                group.enter()
                Thread.detachNewThread {
                    let body = #"{"importPath":"\#(archive)","pod":"p\#(index % 5)","name":"r\#(index)"}"#
                    let response = try? RawHTTP.request(socket: socket, method: "POST", path: "/v1/restore", body: Array(body.utf8))
                    statuses.withLock { $0[index] = (response?.status ?? 0, response?.text ?? "no answer") }
                    group.leave()
                }
            }
            // Meanwhile the CLI mutates the same state.
            for round in 0..<8 {
                try await crpod.ok(["pod", "create", "cli\(round)"])
                try await crpod.ok(["run", "--name", "cli-c\(round)", "--pod", "cli\(round)", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "600"])
                if round % 2 == 1 { try await crpod.ok(["pod", "rm", "-f", "cli\(round)"]) }
            }
            #expect((try await BlockingThread.run("wait for 50 answers") { _ in group.wait(timeout: .now() + 300) }) == .success, "all 50 answered within 5 minutes")

            let failures = statuses.withLock { $0.filter { $0.value.0 != 200 } }
            #expect(failures.isEmpty, "restores that failed: \(failures.sorted { $0.key < $1.key }.prefix(5))")
            let containers = try await crpod.json([ContainerJSON].self, ["ps", "-a"])
            let restored = containers.filter { $0.name.hasPrefix("r") }
            #expect(restored.count == 50 && restored.allSatisfy { $0.state == "running" })
            let pods = try await crpod.json([PodJSON].self, ["pod", "ls"])
            for index in 0..<5 {
                let pod = try #require(pods.first { $0.name == "p\(index)" })
                #expect(restored.filter { $0.pod == pod.id }.count == 10, "10 restores in p\(index)")
            }
            let pids = restored.compactMap(\.pid)
            #expect(Set(pids).count == 50, "no PID collision")
            // State and reality agree: every container an engine runs (runc's state, the native
            // engine's) has a record and vice versa.
            let engineIDs = Set(((try? Files.listDirectory(crpod.runRoot + "/runc")) ?? []) + ((try? Files.listDirectory(crpod.runRoot + "/native")) ?? []))
            #expect(engineIDs == Set(containers.filter { $0.state == "running" }.map(\.id)))
            #expect(((try? Files.listDirectory(crpod.root + "/journal")) ?? []).isEmpty)
            #expect(containers.filter { $0.name.hasPrefix("cli-c") }.count == 4, "the CLI's own work is intact")
            let metrics = try await daemon.request("GET", "/metrics").text
            #expect(metrics.contains("crpod_restores_total{result=\"success\"} 50"))
            #expect(await daemon.stop() == 0)
        }
    }
}
