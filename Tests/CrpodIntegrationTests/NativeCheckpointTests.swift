#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodDrivers
import CrpodLinux
import Testing

/// `crpod checkpoint --engine native` (crpod runs `criu dump` itself) of containers crpod
/// started with runc; the archives are restored by `runc restore` (`--engine runc`), which
/// proves the native images are what runc expects (external keys, descriptors.json).
@Suite("native checkpoint (crpod runs criu dump)", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct NativeCheckpointTests {
    struct StatsJSON: Decodable {
        struct Container: Decodable {
            var criu_statistics: Statistics?
        }
        struct Statistics: Decodable {
            var freezing_time: UInt64
            var frozen_time: UInt64
        }
        var container_statistics: [Container]
    }

    /// CRIU's frozen_time (µs) in `crpod checkpoint --print-stats` output.
    static func frozenTime(_ output: String) throws -> UInt64 {
        let stats = try JSONDecoder().decode(StatsJSON.self, from: Data(output.utf8))
        return try #require(stats.container_statistics.first?.criu_statistics).frozen_time
    }

    @Test("a runc container in a pod checkpointed natively leaves runc no state, exports, and runc restores it into another pod")
    func runcContainerNatively() async throws {
        try await withCrpod { crpod in
            try await startCounter(crpod, pods: ["pa", "pb"])
            let archive = crpod.base + "/c.tar.zst"
            let stats = try await crpod.ok(["checkpoint", "--engine", "native", "--print-stats", "--export", archive, "c"])
            let dumped = try #require(lastCount(try await crpod.ok(["logs", "c"])))
            #expect(try Self.frozenTime(stats) > 0, "frozen time reported: \(stats)")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "exited")
            #expect(try await runcContainers(crpod).isEmpty, "runc has no state of the natively dumped container")
            if try CgroupLayout.current().mode != .unified || Files.readText("/proc/self/cgroup").split(separator: "\n").count == 1 {
                // CRIU opened the hierarchies through crpod's yard of symlinks (no mounts while frozen).
                let yards = try Files.listDirectory(crpod.runRoot + "/cgroup-yard")
                #expect(yards.count == 1 && !yards[0].hasPrefix("."), "one yard, no staging left: \(yards)")
                #expect(try Files.listDirectory(crpod.runRoot + "/cgroup-yard/" + yards[0]).contains("unified"))
            }
            let inspection = try await crpod.json(InspectionJSON.self, ["archive", "inspect", archive])
            #expect(inspection.valid)
            #expect(inspection.members.map(\.name).contains("checkpoint/descriptors.json"))

            try await crpod.ok(["restore", "--engine", "runc", "--import", archive, "--pod", "pb", "--name", "c2"])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "c2"])) ?? 0) > dumped + 2 },
                    "the counter continues after \(dumped) under runc")
            try await removeAll(crpod, containers: ["c2", "c"], pods: ["pa", "pb"])
        }
    }

    @Test("with -R the natively dumped runc container keeps running under runc, and the archive restores with runc")
    func leaveRunningNatively() async throws {
        try await withCrpod { crpod in
            try await startCounter(crpod, pods: ["pa", "pb"])
            let archive = crpod.base + "/r.tar.zst"
            let stats = try await crpod.ok(["checkpoint", "--engine", "native", "-R", "--print-stats", "--export", archive, "c"])
            #expect(try Self.frozenTime(stats) > 0, "native: frozen time reported: \(stats)")
            let runcStats = try await crpod.ok(["checkpoint", "--engine", "runc", "-R", "--print-stats", "--export", crpod.base + "/runc.tar.zst", "c"])
            #expect(try Self.frozenTime(runcStats) > 0, "runc: frozen time reported: \(runcStats)")
            let before = try #require(lastCount(try await crpod.ok(["logs", "c"])))
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "c"])) ?? 0) > before + 3 }, "still counting")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "running")
            #expect(try await runcContainers(crpod).count == 1, "runc still owns the running container")

            try await crpod.ok(["restore", "--engine", "runc", "--import", archive, "--pod", "pb", "--name", "c2"])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "c2"])) ?? 0) > 3 }, "the copy counts on")
            try await removeAll(crpod, containers: ["c2", "c"], pods: ["pa", "pb"])
        }
    }

    /// A shell that forks and reaps a child every ~10 ms: with ptrace seize CRIU must catch a
    /// child forked while it walks the tree (it re-reads each stopped task's children until none
    /// is new), and the engine must find no task left in the cgroup afterwards.
    static let forkingCounter = ["sh", "-c", "i=0; while true; do sleep 0.01 & wait; i=$((i+1)); echo count $i; done"]

    @Test("a tree that forks all the time is dumped whole by ptrace seize, and runc restores it counting on")
    func forkingTreeNatively() async throws {
        try await withCrpod { crpod in
            for pod in ["pa", "pb"] { try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,pid", pod]) }
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + Self.forkingCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 20 })
            let archive = crpod.base + "/f.tar.zst"
            try await crpod.ok(["checkpoint", "--engine", "native", "--export", archive, "c"])
            let dumped = try #require(lastCount(try await crpod.ok(["logs", "c"])))
            try await crpod.ok(["restore", "--engine", "runc", "--import", archive, "--pod", "pb", "--name", "c2"])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "c2"])) ?? 0) > dumped + 20 },
                    "the forking counter continues after \(dumped)")
            try await removeAll(crpod, containers: ["c2", "c"], pods: ["pa", "pb"])
        }
    }

    @Test("a task its pod's init adopted is refused before the dump: the container keeps running, nothing is left")
    func strayTaskIsRefused() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,pid", "pa"])
            let daemonizing = ["sh", "-c", "(sleep 1000 &); i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done"]
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + daemonizing)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            let baseline = try await crpod.leftovers()
            let outcome = try await crpod.run(["checkpoint", "--engine", "native", "--export", crpod.base + "/s.tar.zst", "c"])
            #expect(!outcome.ok)
            #expect(outcome.stderr.contains("outside its init's process tree"), "\(outcome.stderr)")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "running")
            #expect(try await crpod.leftovers() == baseline)
            #expect(!Files.exists(crpod.base + "/s.tar.zst"))
        }
    }

    @Test("a native dump killed at runtime_timeout leaves the container running and nothing behind; the next one works")
    func killedDumpLeavesTheContainerRunning() async throws {
        try await withCrpod { crpod in
            try await startCounter(crpod, pods: ["pa"])
            let baseline = try await crpod.leftovers()
            try crpod.useCRIUHangingAfterDump(timeoutSeconds: 3)
            let archive = crpod.base + "/hung.tar.zst"
            let outcome = try await crpod.run(["checkpoint", "--engine", "native", "--export", archive, "c"])
            #expect(!outcome.ok)
            #expect(outcome.stderr.contains("did not end within 3.0 seconds and was killed"), "\(outcome.stderr)")
            let sleeper = try #require(Int32(Files.readText(crpod.base + "/criu-hang-marker").filter(\.isNumber)))
            #expect(ToolRunnerProbe.isGoneOrZombie(sleeper), "CRIU's action script \(sleeper) was killed with it")
            #expect(!Files.exists(archive), "no archive")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "running")
            let before = try #require(lastCount(try await crpod.ok(["logs", "c"])))
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "c"])) ?? 0) > before + 3 }, "still counting")
            #expect(try await crpod.leftovers() == baseline, "nothing left behind")
            let containerDir = try #require(try Files.listDirectory(crpod.root + "/containers").first)
            #expect(!Files.exists(crpod.root + "/containers/\(containerDir)/checkpoint"), "partial images removed")

            try crpod.useRealCRIU()
            try await crpod.ok(["checkpoint", "--engine", "native", "--export", archive, "c"])
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "exited")
        }
    }

    /// Pods sharing ipc, net, uts and pid, and the counter `c` (runc) in the first one, counting.
    func startCounter(_ crpod: CrpodInstance, pods: [String]) async throws {
        for pod in pods { try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,pid", pod]) }
        try await crpod.ok(["run", "--name", "c", "--pod", pods[0], "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
        #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
    }

    func removeAll(_ crpod: CrpodInstance, containers: [String], pods: [String]) async throws {
        for name in containers { try await crpod.ok(["rm", "-f", name]) }
        for pod in pods { try await crpod.ok(["pod", "rm", "-f", pod]) }
        #expect(try await crpod.leftovers() == [])
    }

    /// The containers runc knows under this instance's run root (`runc --root <run>/runc list`).
    func runcContainers(_ crpod: CrpodInstance) async throws -> [String] {
        let runc = try #require(ToolRunner.which("runc", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? ""))
        let result = try await crpod.runner.run(runc, ["--root", crpod.runRoot + "/runc", "list", "-q"])
        #expect(result.succeeded, "\(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }
}

extension CrpodInstance {
    /// Points the instance's `criu` at a wrapper whose dumps run an action script that hangs
    /// at `post-dump` (the tree is still frozen then), and sets `runtime_timeout`.
    func useCRIUHangingAfterDump(timeoutSeconds: Int) throws {
        let criu = try #require(ToolRunner.which("criu", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? ""))
        let script = base + "/criu-hang-script"
        let marker = base + "/criu-hang-marker"
        try Files.writeAtomically(script, Array("""
            #!/bin/sh
            [ "$CRTOOLS_SCRIPT_ACTION" = post-dump ] || exit 0
            echo $$ > \(marker)
            exec sleep 1000
            """.utf8), mode: 0o755)
        let wrapper = base + "/hanging-criu"
        try Files.writeAtomically(wrapper, Array("""
            #!/bin/sh
            [ "$1" = dump ] && exec \(criu) "$@" --action-script \(script)
            exec \(criu) "$@"
            """.utf8), mode: 0o755)
        try appendConfig("criu = \"\(wrapper)\"\nruntime_timeout = \(timeoutSeconds)\n")
    }

    func useRealCRIU() throws {
        let text = try Files.readText(base + "/crpod.conf")
        let kept = text.split(separator: "\n").filter { !$0.hasPrefix("criu") && !$0.hasPrefix("runtime_timeout") }
        try Files.writeAtomically(base + "/crpod.conf", Array((kept.joined(separator: "\n") + "\n").utf8))
    }
}
