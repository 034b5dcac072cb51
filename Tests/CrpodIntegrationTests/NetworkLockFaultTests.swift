#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodDrivers
import CrpodLinux
import Testing

/// kill -9 of crpod while CRIU holds its network lock in the pod's netns (the iptables CRIU
/// chain that drops every packet without CRIU's mark): the next command removes it, through a
/// child that enters the netns, and the pod's network carries traffic again.
@Suite("crpod killed while CRIU locks the pod's network", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct NetworkLockFaultTests {
    @Test("killed during a dump that locks the netns: the next command removes CRIU's lock; nothing is left")
    func killedWhileLocked() async throws {
        try await withCrpod { crpod in
            let (baseline, exports) = try await crpod.counterToExport(pod: "pa", name: "c")
            #expect(try await crpod.pingsInPod("pa"), "loopback works before")
            let locked = crpod.base + "/criu-locked"
            let path = try crpod.lockHoldingToolDirectory(marker: locked)
            // --tcp-established: the native engine then lets CRIU lock the pod's netns (iptables).
            let outcome = try await crpod.runKilled(["checkpoint", "--engine", "native", "--tcp-established", "--export", exports + "/c.tar.zst", "c"],
                                                    environment: ["PATH": path]) { Files.exists(locked) }
            #expect(outcome.status == .signaled(SIGKILL), "crpod was killed while CRIU held the lock: \(outcome.status)")
            #expect(try await !crpod.pingsInPod("pa"), "the lock drops the pod's packets")
            _ = try await crpod.ok(["ps", "-a"])  // reconciles
            try await crpod.expectNoCRIURules(pod: "pa")
            #expect(try await crpod.pingsInPod("pa"), "the pod's network carries traffic again")
            #expect(((try? Files.listDirectory(crpod.root + "/journal")) ?? []).isEmpty, "journal settled")
            // The orphaned CRIU waits in the tool that holds the lock: let it go, it ends on its own.
            if let sleeper = Int32((try Files.readText(locked)).filter(\.isNumber)) { kill(sleeper, SIGKILL) }
            #expect(try await eventually(seconds: 30) { crpod.criuProcesses(verb: "dump").isEmpty }, "CRIU ended")
            try await crpod.expectNoCRIURules(pod: "pa")
            try await crpod.ok(["rm", "-f", "c"])
            #expect(try await crpod.leftovers() == baseline)
        }
    }
}

extension CrpodInstance {
    /// A PATH whose `ip6tables-restore` (CRIU's last lock step when the kernel has IPv6, else
    /// `iptables-restore`) applies its input and, when that is CRIU's lock, writes its pid to
    /// `marker` and sleeps: CRIU then holds the lock until that sleep is killed.
    func lockHoldingToolDirectory(marker: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        let tool = Files.exists("/proc/sys/net/ipv6") ? "ip6tables-restore" : "iptables-restore"
        let real = try #require(ToolRunner.which(tool, searchPath: path), "\(tool) is not installed")
        let directory = base + "/lock-tools"
        try Files.makeDirectories(directory)
        let script = """
            #!/bin/sh
            input=$(cat)
            printf '%s\\n' "$input" | "\(real)" "$@" || exit $?
            case "$input" in *"-A CRIU -j DROP"*) echo $$ > "\(marker).new" && mv "\(marker).new" "\(marker)"; exec sleep 60;; esac
            """
        try Files.writeAtomically(directory + "/" + tool, Array((script + "\n").utf8), mode: 0o755)
        return directory + ":" + path
    }

    /// Whether one ping to 127.0.0.1 is answered in the pod's netns (busybox from the test rootfs).
    func pingsInPod(_ pod: String) async throws -> Bool {
        let infra = try await infraPid(ofPod: pod)
        let ping = try await runner.run("/usr/bin/nsenter", ["--net=/proc/\(infra)/ns/net", PrivilegedHost.rootfs + "/bin/busybox",
                                                             "ping", "-c", "1", "-W", "1", "127.0.0.1"])
        return ping.succeeded
    }
}
