#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux
import Testing

/// Whole-pod checkpoints (`crpod pod checkpoint`) with real CRIU: one cut for every member,
/// one archive, members left running (thawed) or killed, any failure thawing the pod.
@Suite("whole-pod checkpoint", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct PodCheckpointTests {
    @Test("-R: one archive with every member in order; the loopback TCP pair and the shm segment carry on")
    func leaveRunningWritesOneArchiveAndThePodCarriesOn() async throws {
        try await withCrpod { crpod in
            try await crpod.startTCPAndShmPod("pa")
            let archive = crpod.base + "/pa.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--tcp-established", "-R", "--export", archive, "pa"])

            let inspection = try await crpod.json(PodArchiveJSON.self, ["archive", "inspect", archive])
            #expect(inspection.valid, "\(inspection.problems)")
            #expect(inspection.pod?.name == "pa")
            #expect(inspection.pod?.shares == ["ipc", "net", "uts"])
            #expect(inspection.pod?.members.map(\.name) == ["srv", "cli", "shm"], "creation order is restore order")
            #expect(inspection.podMembers?.map(\.containerName) == ["srv", "cli", "shm"])
            #expect(inspection.podMembers?.allSatisfy(\.valid) == true)

            let before = try #require(lastCount(try await crpod.ok(["logs", "srv"])))
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "srv"])) ?? 0) > before + 3 }, "thawed: the pair counts on")
            #expect(try await crpod.shmKeys(inNamespaceOf: try await crpod.infraPid(ofPod: "pa")) == [4242])
            let single = try await crpod.run(["restore", "--import", archive, "--pod", "pa", "--name", "x"])
            #expect(!single.ok && single.stderr.contains("crpod pod restore --import"), "a pod archive is not a container's: \(single.stderr)")
        }
    }

    @Test("without -R every member is stopped at the cut, the infra runs on, nothing is left frozen")
    func withoutLeaveRunningTheMembersExit() async throws {
        try await withCrpod { crpod in
            try await crpod.startTCPAndShmPod("pa")
            let archive = crpod.base + "/pa.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--tcp-established", "--export", archive, "pa"])
            #expect(try await crpod.json(PodArchiveJSON.self, ["archive", "inspect", archive]).valid)
            for name in ["srv", "cli", "shm"] {
                #expect(try await crpod.json(ContainerJSON.self, ["inspect", name]).state == "exited", "\(name)")
            }
            let infra = try await crpod.infraPid(ofPod: "pa")
            #expect(kill(infra, 0) == 0, "the infra runs on")
            #expect(try await crpod.frozenCgroups() == [], "no cgroup left frozen")
            #expect(((try? Files.listDirectory(crpod.runRoot + "/work")) ?? []).isEmpty, "no scratch tmpfs left")
        }
    }

    @Test("a pod with a stopped member or no member is refused before anything is frozen")
    func membersMustRun() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "empty"])
            try await crpod.expectRefusal(["pod", "checkpoint", "--export", crpod.base + "/e.tar.zst", "empty"], "pod empty has no containers", archive: nil)
            try await crpod.startTCPAndShmPod("pa")
            try await crpod.ok(["stop", "-t", "0", "cli"])
            try await crpod.expectRefusal(["pod", "checkpoint", "--export", crpod.base + "/pa.tar.zst", "pa"], "not running: cli", archive: nil)
            #expect(!Files.exists(crpod.base + "/pa.tar.zst"))
            #expect(try await crpod.frozenCgroups() == [])
        }
    }

    @Test("crpod killed with every member frozen: the next command thaws the pod, which carries on; no archive, no scratch left")
    func aKilledCheckpointLeavesNoFrozenPod() async throws {
        try await withCrpod { crpod in
            try await crpod.startTCPAndShmPod("pa")
            let archive = crpod.base + "/pa.tar.zst"
            let killed = try await crpod.run(["pod", "checkpoint", "--tcp-established", "--export", archive, "pa"],
                                             environment: ["CRPOD_FAULT": "pod-checkpoint-after-freeze"])
            #expect(killed.status == .signaled(SIGKILL))
            #expect(try await crpod.frozenCgroups() != [], "killed while frozen")
            try await crpod.ok(["ps", "-a"])
            #expect(try await crpod.frozenCgroups() == [], "the next command (ps) settled the journal: thawed")
            let before = try #require(lastCount(try await crpod.ok(["logs", "srv"])))
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "srv"])) ?? 0) > before + 3 }, "the pair carries on")
            #expect(!Files.exists(archive))
            #expect(((try? Files.listDirectory(crpod.runRoot + "/work")) ?? []).isEmpty, "no scratch tmpfs left")
            #expect(((try? Files.listDirectory(crpod.root + "/journal")) ?? []).isEmpty, "journal settled")
        }
    }

    @Test("a member that cannot be dumped fails the whole checkpoint: no archive, every member thawed and running")
    func aFailedDumpThawsThePod() async throws {
        try await withCrpod { crpod in
            try await crpod.startTCPAndShmPod("pa")
            let archive = crpod.base + "/pa.tar.zst"
            let outcome = try await crpod.run(["pod", "checkpoint", "--export", archive, "pa"])
            #expect(!outcome.ok, "an established connection needs --tcp-established")
            #expect(outcome.stderr.contains("tcp-established"), "\(outcome.stderr)")
            #expect(!Files.exists(archive))
            for name in ["srv", "cli", "shm"] {
                #expect(try await crpod.json(ContainerJSON.self, ["inspect", name]).state == "running", "\(name)")
            }
            #expect(try await crpod.frozenCgroups() == [], "no cgroup left frozen")
            let before = try #require(lastCount(try await crpod.ok(["logs", "srv"])))
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "srv"])) ?? 0) > before + 3 })
            #expect(((try? Files.listDirectory(crpod.runRoot + "/work")) ?? []).isEmpty, "no scratch tmpfs left")
        }
    }
}

struct PodArchiveJSON: Decodable {
    struct Pod: Decodable {
        struct Member: Decodable { var name: String }
        var name: String
        var shares: [String]
        var members: [Member]
    }
    struct Member: Decodable {
        var containerName: String?
        var valid: Bool
    }
    var valid: Bool
    var problems: [ProblemJSON]
    var pod: Pod?
    var podMembers: [Member]?

    struct ProblemJSON: Decodable { var message: String }
}

extension CrpodInstance {
    /// Pod `name` with three members: `srv` (a busybox nc server logging `count N` lines),
    /// `cli` (the client sending them over loopback TCP) and `shm` (a counter kept in a SysV
    /// shm segment, key 4242, in the pod's IPC namespace: `shmCounterSource`); returns once
    /// both have logged three lines.
    func startTCPAndShmPod(_ name: String) async throws {
        try await ok(["pod", "create", name])
        let serve = "sleep 2147483647 | nc -l -p 7000"
        let send = "i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done | nc 127.0.0.1 7000"
        try await ok(["run", "--name", "srv", "--pod", name, "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c", serve])
        try await Task.sleep(for: .milliseconds(500))
        try await ok(["run", "--name", "cli", "--pod", name, "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c", send])
        let rootfs = try await rootfsWithProgram("shm-count", source: shmCounterSource)
        try await ok(["run", "--name", "shm", "--pod", name, "--rootfs", rootfs, "--", "/bin/shm-count", "4242"])
        #expect(try await eventually { lastCount(try await ok(["logs", "srv"])) ?? 0 >= 3 })
        #expect(try await eventually { lastCount(try await ok(["logs", "shm"])) ?? 0 >= 3 })
    }

    /// cgroup v2 directories below this instance's parent whose `cgroup.freeze` is 1.
    func frozenCgroups() async throws -> [String] {
        guard let v2 = CgroupSet(layout: try CgroupLayout.current()).v2 else { return [] }
        let top = try v2.directory(cgroupParent)
        guard let walker = FileManager.default.enumerator(atPath: top) else { return [] }
        var frozen: [String] = []
        while let entry = walker.nextObject() as? String {
            guard entry.hasSuffix("cgroup.freeze"), (try? Files.readText(top + "/" + entry))?.hasPrefix("1") == true else { continue }
            frozen.append(entry)
        }
        return frozen
    }
}
