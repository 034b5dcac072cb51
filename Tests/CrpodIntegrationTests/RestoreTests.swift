#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodLinux
import Testing

@Suite("restore into pods with real runc and CRIU", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct RestoreTests {
    @Test("a counter checkpointed in pod A continues in pod B; its namespaces are B's infra's", arguments: [
        ["ipc", "net", "uts"], ["ipc", "net", "uts", "pid"],
    ])
    func restoreIntoAnotherPod(shares: [String]) async throws {
        try await withCrpod { crpod in
            let share = shares.joined(separator: ",")
            try await crpod.ok(["pod", "create", "--share", share, "--hostname", "host-a", "pa"])
            let podB = try await crpod.ok(["pod", "create", "--share", share, "--hostname", "host-b", "pb"])
            let (archive, last) = try await crpod.checkpointedCounter(pod: "pa")
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "moved"])

            let restored = try await crpod.json(ContainerJSON.self, ["inspect", "moved"])
            #expect(restored.state == "running")
            #expect(restored.pod == podB)
            let log = try await crpod.ok(["logs", "moved"])
            let first = try #require(log.split(separator: "\n").first.flatMap { Int($0.dropFirst(6)) })
            #expect(first == last + 1, "the counter continued: \(last) then \(first)")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "moved"])) ?? 0) > first + 3 })

            let infra = try await crpod.infraPid(ofPod: "pb")
            let pid = try await crpod.pid(ofContainer: "moved")
            for kind in ["ipc", "net", "uts", "pid"] {
                let same = try NamespaceRef.of(pid: pid, kind: NamespaceKind(rawValue: kind)).inode
                    == NamespaceRef.of(pid: infra, kind: NamespaceKind(rawValue: kind)).inode
                #expect(same == shares.contains(kind), "\(kind): shared \(shares.contains(kind)), same inode \(same)")
            }
            #expect(try ProcCgroup.unifiedPath(ProcCgroup.parse(Files.readText("/proc/\(pid)/cgroup")))?.hasPrefix(
                try await crpod.json(PodJSON.self, ["pod", "inspect", "pb"]).cgroupPath + "/") == true)
            try await crpod.expectTasksInOwnCgroup("moved", pod: "pb")
            #expect(try await crpod.hostname(ofProcess: infra) == "host-b", "pod B keeps its hostname")
        }
    }

    @Test("one archive restored twice with --name gives two containers")
    func restoreTwiceWithNames() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let first = try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "one"])
            let second = try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "two"])
            #expect(first != second)
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "one"]).state == "running")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "two"]).state == "running")
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "pb", "--name", "two"], "two", archive: archive)
        }
    }

    @Test("a checkpoint kept in place restores into the same pod")
    func restoreInPlace() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            try await crpod.ok(["checkpoint", "c"])
            let last = try #require(lastCount(try await crpod.ok(["logs", "c"])))
            try await crpod.ok(["restore", "c"])
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "running")
            try await crpod.expectTasksInOwnCgroup("c", pod: "pa")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "c"])) ?? 0) > last + 3 })
        }
    }

    @Test("refusals change nothing and leave the archive as it was")
    func refusalsLeaveNothing() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "--share", "ipc,net", "nouts"])
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,pid", "withpid"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            try await crpod.ok(["run", "--name", "solo", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            try await crpod.ok(["checkpoint", "--export", crpod.base + "/solo.tar.zst", "solo"])
            try await crpod.expectRefusal(["restore", "--import", archive], "cannot restore pod container without --pod", archive: archive)
            try await crpod.expectRefusal(["restore", "--import", crpod.base + "/solo.tar.zst", "--pod", "pa", "--name", "x"],
                                          "cannot restore non pod container into pod", archive: crpod.base + "/solo.tar.zst")
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "ghost"], "pod \"ghost\" cannot be retrieved", archive: archive)
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "nouts", "--name", "x"], "does not share the UTS namespace", archive: archive)
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "withpid", "--name", "x"], "private PID namespace", archive: archive)
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "pa"], "c", archive: archive)
        }
    }

    @Test("a corrupted archive is refused before anything is touched")
    func corruptedArchive() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let bytes = try Files.read(archive)
            let cut = crpod.base + "/cut.tar.zst"
            try Files.writeAtomically(cut, Array(bytes.prefix(bytes.count * 2 / 3)))
            try await crpod.expectRefusal(["restore", "--import", cut, "--pod", "pa", "--name", "x"], cut, archive: cut)
        }
    }
}

@Suite("import real podman 4.3.1 archives into crpod pods", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct PodmanImportTests {
    static let fixtures = Files.parent(of: Files.parent(of: Files.parent(of: #filePath))) + "/Tests/Fixtures/podman"

    @Test("a podman pod member continues counting in a crpod pod", arguments: [
        ("pod-member.tar.zst", "ipc,net,uts"), ("pod-member-pid.tar.gz", "ipc,net,uts,pid"),
    ])
    func importIntoPod(fixture: String, share: String) async throws {
        try await withCrpod { crpod in
            let archive = Self.fixtures + "/" + fixture
            let bytes = try Files.read(archive)
            let podID = try await crpod.ok(["pod", "create", "--share", share, "target"])
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "target"], "pass --rootfs", archive: archive)
            let restore = ["restore", "--import", archive, "--pod", "target", "--rootfs", PrivilegedHost.rootfs, "--name", "imported"]
            if try await Self.refusedUnderCgroupV2(crpod, restore, archive: archive) { return }
            try await crpod.ok(restore)
            try await crpod.expectTasksInOwnCgroup("imported", pod: "target")
            let restored = try await crpod.json(ContainerJSON.self, ["inspect", "imported"])
            #expect(restored.state == "running")
            #expect(restored.pod == podID)
            // podman's counter logged 0, 1, 2 before the checkpoint; it goes on from there.
            let lastNumber = { (log: String) in log.split(separator: "\n").last.flatMap { Int($0) } ?? -1 }
            #expect(try await eventually { lastNumber(try await crpod.ok(["logs", "imported"])) >= 4 })
            let infra = try await crpod.infraPid(ofPod: "target")
            let pid = try await crpod.pid(ofContainer: "imported")
            #expect(try NamespaceRef.of(pid: pid, kind: .net).inode == NamespaceRef.of(pid: infra, kind: .net).inode)
            #expect(try Files.read(archive) == bytes, "the archive is only read")
        }
    }
}

extension PodmanImportTests {
    @Test("a standalone podman container restores outside pods with a fresh network namespace")
    func importStandalone() async throws {
        try await withCrpod { crpod in
            let archive = Self.fixtures + "/standalone.tar"
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "nope", "--rootfs", PrivilegedHost.rootfs],
                                          "cannot restore non pod container into pod", archive: archive)
            let restore = ["restore", "--import", archive, "--rootfs", PrivilegedHost.rootfs, "--name", "alone"]
            if try await Self.refusedUnderCgroupV2(crpod, restore, archive: archive) { return }
            try await crpod.ok(restore)
            try await crpod.expectTasksInOwnCgroup("alone")
            let pid = try await crpod.pid(ofContainer: "alone")
            #expect(try NamespaceRef.of(pid: pid, kind: .net).inode != NamespaceRef.of(pid: getpid(), kind: .net).inode, "not the host's network")
            let lastNumber = { (log: String) in log.split(separator: "\n").last.flatMap { Int($0) } ?? -1 }
            #expect(try await eventually { lastNumber(try await crpod.ok(["logs", "alone"])) >= 4 })
            try await crpod.ok(["rm", "-f", "alone"])
            #expect(try await crpod.leftovers() == [])
        }
    }
}

extension PodmanImportTests {
    @Test("a failing runc restore quotes CRIU, keeps its log, and leaves nothing else behind")
    func runtimeFailureRollsBack() async throws {
        try await withCrpod { crpod in
            let archive = Self.fixtures + "/pod-member.tar.zst"
            try await crpod.ok(["pod", "create", "target"])
            let empty = crpod.base + "/empty-rootfs"
            try Files.makeDirectories(empty, mode: 0o755)
            if try await Self.refusedUnderCgroupV2(crpod, ["restore", "--import", archive, "--pod", "target", "--rootfs", empty], archive: archive) { return }
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "target", "--rootfs", empty],
                                          "Can't open file", archive: archive)
            let outcome = try await crpod.run(["restore", "--import", archive, "--pod", "target", "--rootfs", empty])
            #expect(outcome.stderr.contains("full CRIU log kept at"))
            #expect(try Files.listDirectory(crpod.root + "/logs").contains { $0.hasPrefix("restore-crpod-fx-pod-member") })
        }
    }
}

extension PodmanImportTests {
    /// The fixtures were checkpointed by podman on a hybrid host. Where crpod manages cgroup v2
    /// alone (the suite's second pass) it refuses them before the runtime runs — runc cannot
    /// restore their v1 cgroup mounts there — and changes nothing. True when it did so.
    static func refusedUnderCgroupV2(_ crpod: CrpodInstance, _ arguments: [String], archive: String) async throws -> Bool {
        guard try CgroupLayout.current().mode == .unified else { return false }
        try await crpod.expectRefusal(arguments, "the checkpoint was taken on a cgroup v1 or hybrid host", archive: archive)
        return true
    }
}
