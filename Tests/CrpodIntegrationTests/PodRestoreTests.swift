#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodLinux
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Whole-pod restores (`crpod pod restore --import`) of whole-pod archives with real CRIU:
/// the pod comes back with every member, its connections and its SysV shm; refusals and
/// failures leave nothing.
@Suite("whole-pod restore", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct PodRestoreTests {
    @Test("the pod comes back: the loopback TCP pair between two members continues without a gap, the shm segment and its counter too")
    func thePodContinues() async throws {
        try await withCrpod { crpod in
            let (archive, lastReceived, lastShm) = try await crpod.checkpointedTCPAndShmPod("pa")

            try await crpod.expectRefusal(["pod", "restore", "--import", archive], "restore with --tcp-established, which needs the same IP address", archive: archive)
            try await crpod.ok(["pod", "restore", "--tcp-established", "--import", archive])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "srv"])) ?? 0) > lastReceived + 3 })
            let received = try await crpod.ok(["logs", "srv"]).split(separator: "\n").compactMap { Int($0.dropFirst(6)) }
            #expect(received.first == lastReceived + 1, "the server's next line came through the restored connection")
            #expect(received == Array(received.indices.map { (lastReceived + 1) + $0 }), "no gap and no repeat: \(received.prefix(10))")
            let shmCounts = try await crpod.ok(["logs", "shm"]).split(separator: "\n").compactMap { Int($0.dropFirst(6)) }
            #expect(shmCounts.first == lastShm + 1, "the shm counter read back its own segment: \(shmCounts.prefix(5))")
            let infra = try await crpod.infraPid(ofPod: "pa")
            #expect(try await crpod.shmKeys(inNamespaceOf: infra) == [4242], "the segment is in the new pod's IPC namespace, once")
            #expect(try await crpod.hostname(ofProcess: infra) == "pa")
            let pod = try await crpod.json(PodJSON.self, ["pod", "inspect", "pa"])
            #expect(pod.containers.sorted() == ["cli", "shm", "srv"])
        }
    }

    @Test("a PID-sharing pod comes back sharing PID under the --cgroup-parent given: both counters continue in one new PID namespace")
    func aPIDSharingPodComesBack() async throws {
        try await withCrpod { crpod in
            let (archive, last) = try await crpod.checkpointedCounterPod("pp", shares: "ipc,net,uts,pid")
            let parent = crpod.cgroupParent + "/moved"
            try await crpod.ok(["pod", "restore", "--cgroup-parent", parent, "--import", archive])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "b"])) ?? 0) > last + 3 })
            let pod = try await crpod.json(PodJSON.self, ["pod", "inspect", "pp"])
            #expect(pod.shares.contains("pid"))
            #expect(pod.cgroupPath.hasPrefix(parent + "/"), "the new pod's cgroup is under \(parent): \(pod.cgroupPath)")
            for name in ["a", "b"] {
                let member = try await crpod.json(ContainerJSON.self, ["inspect", name])
                #expect(member.cgroupPath.hasPrefix(pod.cgroupPath + "/"), "\(name) sits in the pod's cgroup: \(member.cgroupPath)")
            }
            let infraPID = try #require(pod.namespaces.first { $0.type == "pid" }?.inode)
            for name in ["a", "b"] {
                let member = try await crpod.json(ContainerJSON.self, ["inspect", name])
                #expect(member.namespaces.first { $0.type == "pid" }?.inode == infraPID, "\(name) is in the new pod's PID namespace")
            }
        }
    }

    @Test("two members attaching one SysV segment (one writes, one only reads): restored natively they share it again; runc refuses before creating anything; a taken name is refused too")
    func twoMembersShareASysVSegment() async throws {
        try await withCrpod { crpod in
            let (archive, lastWritten) = try await crpod.checkpointedSharedSegmentPod("pa")

            try await crpod.expectRefusal(["pod", "restore", "--import", archive, "--name", "pb"], "a container named \"writer\" exists", archive: archive)
            try await crpod.ok(["pod", "rm", "-f", "pa"])
            guard ProcessInfo.processInfo.environment["CRPOD_ENGINE"] != "runc" else {  // pod restore uses every command's engine
                try await crpod.expectRefusal(["pod", "restore", "--import", archive], "members writer, reader each have SysV shared memory attached", archive: archive)
                #expect(try await crpod.ok(["pod", "ls", "-q"]) == "", "no pod left")
                return
            }
            try await crpod.ok(["pod", "restore", "--import", archive])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "writer"])) ?? 0) > lastWritten + 5 })
            let written = try await crpod.ok(["logs", "writer"]).split(separator: "\n").compactMap { Int($0.dropFirst(6)) }
            #expect(written.first == lastWritten + 1, "the writer counts on in the segment: \(written.prefix(5))")
            let read = try await crpod.ok(["logs", "reader"]).split(separator: "\n").compactMap { Int($0.dropFirst(6)) }
            #expect((read.first ?? 0) >= lastWritten && (read.last ?? 0) > (read.first ?? 0) + 2,
                    "the reader sees the writer's new counts, so both map the one segment: \(read)")
            let infra = try await crpod.infraPid(ofPod: "pa")
            #expect(try await crpod.shmKeys(inNamespaceOf: infra) == [4242], "the segment is in the new pod's IPC namespace, once")
            #expect(try await crpod.shmAttachCount(key: 4242, inNamespaceOf: infra) == 2, "attached by both members")
        }
    }

    @Test("crpod killed while a member's tasks wait stopped for their SysV segment: the next command removes members and pod, nothing left",
          .enabled(if: ProcessInfo.processInfo.environment["CRPOD_ENGINE"] != "runc", "the native engine's step"))
    func aKillWhileTasksWaitStoppedLeavesNothing() async throws {
        try await withCrpod { crpod in
            let archive = try await crpod.checkpointedSharedSegmentPod("pa").archive
            try await crpod.ok(["pod", "rm", "-f", "pa"])
            let before = try await crpod.leftovers()
            let killed = try await crpod.run(["pod", "restore", "--import", archive], environment: ["CRPOD_FAULT": "restore-tasks-stopped"])
            #expect(killed.status == .signaled(SIGKILL), "killed at the step: \(killed.status) \(killed.stderr)")
            let stopped = Processes.pids(withArgument: "/bin/shm-count").filter { pid in
                (try? Files.readText("/proc/\(pid)/status"))?.contains("State:\tT") == true
            }
            #expect(!stopped.isEmpty, "the reader's tasks were left stopped by CRIU when crpod died")
            #expect(try await crpod.ok(["ps", "-a", "-q"]) == "", "reconciled: no member")
            #expect(try await crpod.ok(["pod", "ls", "-q"]) == "", "reconciled: no pod")
            #expect(try await crpod.leftovers() == before, "nothing left behind: no stopped task, cgroup or mount")
        }
    }

    @Test("the members resume together: killed once every member is restored, their tasks are all still stopped (none ran ahead); the next command removes them and the pod",
          .enabled(if: ProcessInfo.processInfo.environment["CRPOD_ENGINE"] != "runc", "runc cannot restore tasks stopped"))
    func membersResumeTogether() async throws {
        try await withCrpod { crpod in
            let (archive, _) = try await crpod.checkpointedCounterPod("pw")
            let before = try await crpod.leftovers()
            let killed = try await crpod.run(["pod", "restore", "--import", archive], environment: ["CRPOD_FAULT": "pod-restore-before-resume"])
            #expect(killed.status == .signaled(SIGKILL), "killed before the resume: \(killed.status) \(killed.stderr)")
            let counter = "i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done"
            let ours = Processes.pids(withArgument: counter).filter { pid in
                (try? Files.readText("/proc/\(pid)/cgroup"))?.contains(crpod.cgroupParent + "/") == true
            }
            let states = ours.map { pid in (try? Files.readText("/proc/\(pid)/status"))?.split(separator: "\n").first { $0.hasPrefix("State:") } ?? "" }
            #expect(ours.count == 2 && states.allSatisfy { $0.contains("T (stopped)") }, "both members restored and stopped: \(states)")
            #expect(try await crpod.ok(["pod", "ls", "-q"]) == "", "reconciled: no pod")
            #expect(try await crpod.leftovers() == before, "nothing left behind")
            let gone = { (pid: Int32) in (try? Files.readText("/proc/\(pid)/status"))?.contains("State:\tZ") ?? true }
            #expect(try await eventually { ours.allSatisfy(gone) }, "the stopped members are gone (or dead, awaiting their reaper)")
        }
    }

    @Test("crpod killed after the first member is restored: the next command removes the member and the pod")
    func aKilledRestoreLeavesNoHalfPod() async throws {
        try await withCrpod { crpod in
            let archive = try await crpod.checkpointedTCPAndShmPod("pa").archive
            let before = try await crpod.leftovers()
            let killed = try await crpod.run(["pod", "restore", "--tcp-established", "--import", archive], environment: ["CRPOD_FAULT": "restore-after-runtime"])
            #expect(!killed.ok)
            #expect(try await crpod.ok(["ps", "-a", "-q"]) == "", "reconciled: no member")
            #expect(try await crpod.ok(["pod", "ls", "-q"]) == "", "reconciled: no pod")
            #expect(try await crpod.leftovers() == before, "nothing left behind")
        }
    }
}

extension CrpodInstance {
    /// Pod `name` with two busybox counters `a` and `b`, checkpointed (stopped) into an
    /// archive, the pod then removed; returns the archive and `b`'s last count.
    func checkpointedCounterPod(_ name: String, shares: String = "ipc,net,uts") async throws -> (archive: String, last: Int) {
        try await ok(["pod", "create", "--share", shares, name])
        let counter = ["sh", "-c", "i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done"]
        for member in ["a", "b"] { try await ok(["run", "--name", member, "--pod", name, "--rootfs", PrivilegedHost.rootfs, "--"] + counter) }
        #expect(try await eventually { lastCount(try await ok(["logs", "b"])) ?? 0 >= 3 })
        let archive = base + "/\(name).tar.zst"
        try await ok(["pod", "checkpoint", "--export", archive, name])
        let last = try #require(lastCount(try await ok(["logs", "b"])))
        try await ok(["pod", "rm", "-f", name])
        return (archive, last)
    }

    /// `startTCPAndShmPod(name)` checkpointed (stopped) into an archive, the pod then removed;
    /// returns the archive and the last counts of `srv` and `shm`.
    func checkpointedTCPAndShmPod(_ name: String) async throws -> (archive: String, srv: Int, shm: Int) {
        try await startTCPAndShmPod(name)
        let archive = base + "/\(name).tar.zst"
        try await ok(["pod", "checkpoint", "--tcp-established", "--export", archive, name])
        let srv = try #require(lastCount(try await ok(["logs", "srv"])))
        let shm = try #require(lastCount(try await ok(["logs", "shm"])))
        try await ok(["pod", "rm", "-f", name])
        return (archive, srv, shm)
    }
}

/// `shm-count KEY`: attaches (creating if needed) a SysV shm segment and every 100 ms
/// increments the counter kept in it and prints `count N` — so after a restore the next
/// line is the segment's value + 1 only if the segment came back with its content.
extension CrpodInstance {
    /// Pod `name` with `writer` counting in SysV segment 4242 and `reader` attaching it
    /// read-only and printing what it sees, checkpointed (members stopped) into an archive;
    /// returns it and the writer's last count.
    func checkpointedSharedSegmentPod(_ name: String) async throws -> (archive: String, lastWritten: Int) {
        try await ok(["pod", "create", name])
        let rootfs = try await rootfsWithProgram("shm-count", source: shmCounterSource)
        try await ok(["run", "--name", "writer", "--pod", name, "--rootfs", rootfs, "--", "/bin/shm-count", "4242"])
        try await ok(["run", "--name", "reader", "--pod", name, "--rootfs", rootfs, "--", "/bin/shm-count", "4242", "read"])
        #expect(try await eventually { lastCount(try await ok(["logs", "reader"])) ?? 0 >= 3 }, "the reader sees the writer's counts")
        let archive = base + "/\(name).tar.zst"
        try await ok(["pod", "checkpoint", "--export", archive, name])
        return (archive, try #require(lastCount(try await ok(["logs", "writer"]))))
    }
}

let shmCounterSource = """
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int key = argc > 1 ? atoi(argv[1]) : 1;
    int readOnly = argc > 2;  /* "read": attach read-only and print what the writer counted */
    int id = shmget((key_t)key, 4096, IPC_CREAT | 0600);
    if (id < 0) { perror("shmget"); return 1; }
    long *counter = shmat(id, 0, readOnly ? SHM_RDONLY : 0);
    if (counter == (void *)-1) { perror("shmat"); return 1; }
    for (;;) { printf("count %ld\\n", readOnly ? *counter : (*counter)++); fflush(stdout); usleep(100000); }
}
"""
