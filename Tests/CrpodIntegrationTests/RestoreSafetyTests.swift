import CrpodLinux
import Testing

/// Where CRIU and podman are not safe: each test fails without crpod's fix.
@Suite("restore safety in shared namespaces", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct RestoreSafetyTests {
    @Test("shared IPC: the source pod's SysV objects are not re-created in the target pod")
    func ipcObjectsStayInTheirPod() async throws {
        try await withCrpod { crpod in
            let rootfs = try await crpod.rootfsWithIPCHold()
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            try await crpod.ok(["run", "--name", "shm-a", "--pod", "pa", "--rootfs", rootfs, "--", "/bin/ipc-hold", "1111"])
            try await crpod.ok(["run", "--name", "shm-b", "--pod", "pb", "--rootfs", rootfs, "--", "/bin/ipc-hold", "2222"])
            #expect(try await eventually { try await crpod.ok(["logs", "shm-a"]).contains("shm key") })
            #expect(try await eventually { try await crpod.ok(["logs", "shm-b"]).contains("shm key") })
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa", rootfs: rootfs)
            // Both pods' first segment has id 0: CRIU alone fails with "Failed to create shm set: File exists".
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "moved"])
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "moved"]).state == "running")
            #expect(try await crpod.shmKeys(inNamespaceOf: crpod.infraPid(ofPod: "pb")) == [2222])
            #expect(try await crpod.shmKeys(inNamespaceOf: crpod.infraPid(ofPod: "pa")) == [1111])
        }
    }

    @Test("shared UTS: the target pod keeps its hostname")
    func targetKeepsHostname() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--hostname", "source-host", "pa"])
            try await crpod.ok(["pod", "create", "--hostname", "target-host", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "moved"])
            #expect(try await crpod.hostname(ofProcess: crpod.infraPid(ofPod: "pb")) == "target-host")
            #expect(try await crpod.hostname(ofProcess: crpod.pid(ofContainer: "moved")) == "target-host")
        }
    }

    @Test("shared PID: a checkpoint PID taken in the target pod is named before anything is touched")
    func pidCollisionIsRefused() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,pid", "pa"])
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,pid", "pb"])
            // The first member of each pod gets the same PIDs (2, 3, ...) in its pod's namespace.
            try await crpod.ok(["run", "--name", "occupant", "--pod", "pb", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "pb", "--name", "moved"],
                                          "of the checkpoint is already in use in pod pb's PID namespace", archive: archive)
        }
    }

    @Test("shared cgroup namespace: refused up front with a clear message")
    func sharedCgroupNamespaceIsRefused() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,cgroup", "pa"])
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,cgroup", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "pb", "--name", "moved"], "cgroup namespace", archive: archive)
        }
    }
}
