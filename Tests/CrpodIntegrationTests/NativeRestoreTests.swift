#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodCore
import CrpodDrivers
import CrpodLinux
import Testing

/// `crpod restore --engine native`: crpod runs CRIU itself (NativeEngine) for an archive runc
/// dumped, and owns the restored tree (state file, ps/inspect, stop, rm).
@Suite("native engine restore with real CRIU", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct NativeRestoreTests {
    static let native = ["--engine", "native"]

    @Test("a counter dumped in pod A continues in pod B natively; ps, inspect, stop and rm own it and leave nothing")
    func restoreIntoAnotherPod() async throws {
        try await withCrpod { crpod in
            let share = ["--share", "ipc,net,uts,pid"]
            try await crpod.ok(["pod", "create"] + share + ["--hostname", "host-a", "pa"])
            try await crpod.ok(["pod", "create"] + share + ["--hostname", "host-b", "pb"])
            let (archive, last) = try await crpod.checkpointedCounter(pod: "pa")
            let stats = try await crpod.ok(["restore", "--print-stats", "--import", archive, "--pod", "pb", "--name", "moved"] + Self.native)
            struct Stats: Decodable {
                struct Container: Decodable {
                    struct CRIU: Decodable { var restore_time: UInt64; var pages_restored: UInt64 }
                    var criu_statistics: CRIU?
                }
                var container_statistics: [Container]
            }
            let criuStats = try #require(try JSONDecoder().decode(Stats.self, from: Data(stats.utf8)).container_statistics.first?.criu_statistics,
                                         "CRIU's stats-restore landed in the work directory: \(stats)")
            #expect(criuStats.restore_time > 0 && criuStats.pages_restored > 0)

            let restored = try await crpod.json(ContainerJSON.self, ["inspect", "moved"])
            #expect(restored.state == "running")
            let log = try await crpod.ok(["logs", "moved"])
            let first = try #require(log.split(separator: "\n").first.flatMap { Int($0.dropFirst(6)) })
            #expect(first == last + 1, "the counter continued through crpod-logger: \(last) then \(first)")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "moved"])) ?? 0) > first + 3 })

            let infra = try await crpod.infraPid(ofPod: "pb")
            let pid = try #require(restored.pid)
            for kind in ["ipc", "net", "uts", "pid"] {
                let namespace = NamespaceKind(rawValue: kind)
                #expect(try NamespaceRef.of(pid: pid, kind: namespace).inode == NamespaceRef.of(pid: infra, kind: namespace).inode, "\(kind) is pod B's")
            }
            try await crpod.expectTasksInOwnCgroup("moved", pod: "pb")
            try Self.expectDevicePolicy(cgroup: restored.cgroupPath)
            #expect(try await crpod.hostname(ofProcess: infra) == "host-b", "pod B keeps its hostname")
            let stateFile = crpod.runRoot + "/native/\(restored.id)/state.json"
            #expect(Files.exists(stateFile), "the native engine recorded the container")
            #expect(!Files.exists(crpod.runRoot + "/runc/\(restored.id)"), "runc has no state of it")
            #expect(try await crpod.ok(["ps", "-q"]).contains(restored.id.prefix(12)))

            try await crpod.ok(["stop", "moved"])
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "moved"]).state == "exited")
            #expect(!Processes.isRunning(pid))
            try await crpod.ok(["rm", "moved"])
            #expect(!Files.exists(crpod.runRoot + "/native/\(restored.id)"), "rm removed the native state")
            #expect(CgroupSet(layout: try CgroupLayout.current()).existingDirectories(restored.cgroupPath).isEmpty)
            try await crpod.ok(["rm", "-f", "c"])
            try await crpod.ok(["pod", "rm", "-f", "pa"])
            try await crpod.ok(["pod", "rm", "-f", "pb"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    /// runc's device policy holds in the natively restored container's cgroup: a v2 device
    /// filter attached, or a v1 devices.list that is runc's allow list, not the open default.
    static func expectDevicePolicy(cgroup: String) throws {
        let cgroups = CgroupSet(layout: try CgroupLayout.current())
        if cgroups.layout.mode == .unified, let v2 = cgroups.v2 {
            #expect(try DeviceCgroup.attachedFilterTags(directory: v2.directory(cgroup)).count == 1, "one device filter attached")
            return
        }
        let devices = try #require(cgroups.v1.first { $0.controllers.contains("devices") })
        let list = try Files.readText(devices.directory(cgroup) + "/devices.list").split(separator: "\n").map(String.init)
        #expect(!list.contains("a *:* rwm") && list.contains("c 1:3 rwm"), "runc's allow list, not everything: \(list)")
    }

    /// podman's archive (runc dumped it on a hybrid host, v1 cgroup binds external, pids limit
    /// 2048 in its spec) restored by the native engine: it counts on, and the limit is set.
    @Test("a committed podman pod-member archive restores natively with its pids limit")
    func podmanArchive() async throws {
        try await withCrpod { crpod in
            let archive = PodmanImportTests.fixtures + "/pod-member.tar.zst"
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts", "target"])
            let restore = ["restore", "--import", archive, "--pod", "target", "--rootfs", PrivilegedHost.rootfs, "--name", "imported"] + Self.native
            if try await PodmanImportTests.refusedUnderCgroupV2(crpod, restore, archive: archive) { return }
            try await crpod.ok(restore)
            let restored = try await crpod.json(ContainerJSON.self, ["inspect", "imported"])
            #expect(restored.state == "running" && Files.exists(crpod.runRoot + "/native/\(restored.id)/state.json"))
            let lastNumber = { (log: String) in log.split(separator: "\n").last.flatMap { Int($0) } ?? -1 }
            #expect(try await eventually { lastNumber(try await crpod.ok(["logs", "imported"])) >= 4 }, "podman's counter goes on")
            try await crpod.expectTasksInOwnCgroup("imported", pod: "target")
            let pids = try #require(CgroupLayout.current().hierarchies.first { $0.controllers.contains("pids") || $0.isUnified })
            #expect(try Files.readText(pids.mountPoint + restored.cgroupPath + "/pids.max").trimmingCharacters(in: .whitespacesAndNewlines) == "2048")
            try await crpod.ok(["rm", "-f", "imported"])
            try await crpod.ok(["pod", "rm", "-f", "target"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    /// A mount key only a host bind could satisfy (the image rule turned off, so the archive
    /// reaches the engine): the native planner refuses it by name, before anything is made.
    @Test("an unsatisfiable external mount key is refused by name and leaves nothing")
    func unsatisfiableMountKey() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let tampered = try await crpod.tamperedArchive(from: archive, variant: "host-bind")
            try await crpod.expectNativeFailureLeavesNothing(
                ["restore", "--trust-archive", "--import", tampered.path, "--pod", "pb", "--name", "bad"] + Self.native,
                mentioning: "\"/host-etc\"")
        }
    }

    /// CRIU killed mid-restore (a wrapper kills it after it started): the restore fails, and
    /// what CRIU may have started, the cgroup and the container are gone.
    @Test("CRIU killed during the restore leaves nothing", arguments: [0.0, 0.15])
    func criuKilled(after seconds: Double) async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let realCRIU = try #require(ToolRunner.which("criu", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? ""))
            let wrapper = crpod.base + "/criu-killed"
            // Only `criu restore` is killed; probes (`criu --version`, `check`) run as they are.
            let script = """
                #!/bin/sh
                [ "$1" = restore ] || exec "\(realCRIU)" "$@"
                "\(realCRIU)" "$@" & child=$!
                sleep \(seconds)
                kill -9 $child
                wait $child
                exit 137

                """
            try Files.writeAtomically(wrapper, Array(script.utf8), mode: 0o755)
            try await crpod.expectNativeFailureLeavesNothing(
                ["restore", "--criu", wrapper, "--import", archive, "--pod", "pb", "--name", "killed"] + Self.native, mentioning: "killed")
        }
    }
}

extension CrpodInstance {
    /// Runs a native restore that must fail naming `message`, then checks nothing is left: no
    /// container, no native state, no new cgroup, mount or process.
    func expectNativeFailureLeavesNothing(_ arguments: [String], mentioning message: String,
                                          sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try await leftovers()
        let containers = try await ok(["ps", "-a", "-q"])
        let processes = try processesInCgroups().count
        let outcome = try await run(arguments)
        #expect(!outcome.ok, "the restore failed", sourceLocation: sourceLocation)
        #expect(outcome.stderr.contains(message), "\(message) in: \(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(try await leftovers() == before, "no new leftovers", sourceLocation: sourceLocation)
        #expect(try await ok(["ps", "-a", "-q"]) == containers, "no new container", sourceLocation: sourceLocation)
        let nativeStates = (try? Files.listDirectory(runRoot + "/native")) ?? []
        #expect(nativeStates.isEmpty, "no native state: \(nativeStates)", sourceLocation: sourceLocation)
        #expect(try await eventually { try processesInCgroups().count == processes }, "nothing new runs", sourceLocation: sourceLocation)
    }
}
