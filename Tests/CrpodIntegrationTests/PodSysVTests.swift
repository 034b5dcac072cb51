#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodLinux
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A pod member with a SysV segment of its pod attached, restored on its own (the whole-pod
/// cases are in PodRestoreTests): back into its own pod the segment is attached again (the
/// pod's IPC namespace still holds it), also after a restore killed midway; into another pod
/// it is refused with the reason, leaving nothing.
@Suite("SysV shared memory of a pod member", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct PodSysVTests {
    static let runc = ProcessInfo.processInfo.environment["CRPOD_ENGINE"] == "runc"

    @Test("checkpointed and restored in place, killed once with its tasks stopped: the retry attaches the pod's segment again and the reader keeps seeing the counts",
          .enabled(if: !runc, "the native engine attaches segments; runc cannot restore tasks stopped"))
    func inPlaceRestoreAttachesThePodSegment() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            let rootfs = try await crpod.rootfsWithProgram("shm-count", source: shmCounterSource)
            try await crpod.ok(["run", "--name", "writer", "--pod", "pa", "--rootfs", rootfs, "--", "/bin/shm-count", "4242"])
            try await crpod.ok(["run", "--name", "reader", "--pod", "pa", "--rootfs", rootfs, "--", "/bin/shm-count", "4242", "read"])
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "reader"])) ?? 0 >= 3 })
            try await crpod.ok(["checkpoint", "writer"])
            let lastWritten = try #require(lastCount(try await crpod.ok(["logs", "writer"])))

            let killed = try await crpod.run(["restore", "writer"], environment: ["CRPOD_FAULT": "restore-tasks-stopped"])
            #expect(killed.status == .signaled(SIGKILL), "killed with the tasks stopped: \(killed.status) \(killed.stderr)")
            let state = try await crpod.json(ContainerJSON.self, ["inspect", "writer"]).state
            #expect(state == "checkpointed", "reconciled back to its checkpoint")
            try await crpod.ok(["restore", "writer"])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "writer"])) ?? 0) > lastWritten + 5 })
            let infra = try await crpod.infraPid(ofPod: "pa")
            #expect(try await crpod.shmAttachCount(key: 4242, inNamespaceOf: infra) == 2, "the writer maps the pod's segment again")
            let seen = try #require(lastCount(try await crpod.ok(["logs", "reader"])))
            #expect(seen > lastWritten + 3, "the reader sees the restored writer's counts (\(seen), last written before: \(lastWritten))")
        }
    }

    @Test("a whole pod whose first member counts in a SysV semaphore and whose second attaches a segment: after pod restore both count on (every IPC object exists before any member runs)",
          .enabled(if: !runc, "the native engine lets the first member carry the pod's IPC objects"))
    func semaphoreUserAheadOfSegmentUser() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            let semaphores = try await crpod.rootfsWithProgram("sem-count", source: semCounterSource)
            try await crpod.ok(["run", "--name", "sem", "--pod", "pa", "--rootfs", semaphores, "--", "/bin/sem-count", "4343"])
            let segments = try await crpod.rootfsWithProgram("shm-count", source: shmCounterSource)
            try await crpod.ok(["run", "--name", "shm", "--pod", "pa", "--rootfs", segments, "--", "/bin/shm-count", "4242"])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "sem"])) ?? 0) >= 3 })
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "shm"])) ?? 0) >= 3 })
            let archive = crpod.base + "/pa.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--export", archive, "pa"])
            let lastSem = try #require(lastCount(try await crpod.ok(["logs", "sem"])))
            let lastShm = try #require(lastCount(try await crpod.ok(["logs", "shm"])))
            try await crpod.ok(["pod", "rm", "-f", "pa"])

            try await crpod.ok(["pod", "restore", "--import", archive])
            let semCountsOn = try await eventually { (lastCount(try await crpod.ok(["logs", "sem"])) ?? 0) > lastSem + 3 }
            let semLog = try await crpod.ok(["logs", "sem"])
            #expect(semCountsOn, "the semaphore counts on: \(semLog.suffix(200))")
            let semCounts = try await crpod.ok(["logs", "sem"]).split(separator: "\n").compactMap { Int($0.dropFirst(6)) }
            #expect(semCounts.first == lastSem + 1, "from its restored value: \(semCounts.prefix(5))")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "shm"])) ?? 0) > lastShm + 3 }, "the segment counts on")
        }
    }

    @Test("its archive restored into another pod is refused naming the segment; into its own pod under a new name it shares the segment (runc: refused, nothing left)")
    func anotherPodIsRefused() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let rootfs = try await crpod.rootfsWithProgram("shm-count", source: shmCounterSource)
            try await crpod.ok(["run", "--name", "writer", "--pod", "pa", "--rootfs", rootfs, "--", "/bin/shm-count", "4242"])
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "writer"])) ?? 0 >= 3 })
            let archive = crpod.base + "/writer.tar.zst"
            try await crpod.ok(["checkpoint", "-R", "--export", archive, "writer"])

            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "pb", "--name", "w2"],
                                          "the checkpoint's tasks have SysV shared memory attached (segment id 0) of their old pod's IPC namespace; pod pb's", archive: archive)
            guard !Self.runc else {
                try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "pa", "--name", "w2"], "use --engine native", archive: archive)
                return
            }
            try await crpod.ok(["restore", "--import", archive, "--pod", "pa", "--name", "w2"])
            let infra = try await crpod.infraPid(ofPod: "pa")
            #expect(try await crpod.shmAttachCount(key: 4242, inNamespaceOf: infra) == 2, "writer and w2 count in one segment")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "w2"])) ?? 0) > 5 })
        }
    }
}

/// Counts in a SysV semaphore of the pod's IPC namespace (created with `key` if missing):
/// `count N` per tick, N the semaphore's value after incrementing it; exits on any error.
let semCounterSource = """
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int id = semget((key_t)atoi(argv[1]), 1, IPC_CREAT | 0600);
    if (id < 0) { perror("semget"); return 1; }
    struct sembuf up = { 0, 1, 0 };
    for (;;) {
        if (semop(id, &up, 1) != 0) { perror("semop"); return 1; }
        int value = semctl(id, 0, GETVAL);
        if (value < 0) { perror("semctl"); return 1; }
        printf("count %d\\n", value); fflush(stdout); usleep(100000);
    }
}
"""
