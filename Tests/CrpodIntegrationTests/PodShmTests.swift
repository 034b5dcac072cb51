#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodLinux
import Testing

/// A pod's /dev/shm (POSIX shared memory, named semaphores) with real runc and CRIU: shared by
/// the members in the pod's IPC namespace, as podman's are; carried by checkpoints as
/// `devshm-checkpoint.tar`, and by a whole-pod checkpoint at its one cut, so two members that
/// share a mapped /dev/shm file keep sharing it after `pod restore`.
@Suite("pod /dev/shm", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct PodShmTests {
    static let counterFile = "crpod-counter"

    @Test("members in the pod's IPC namespace share one /dev/shm tmpfs; a pod without IPC shared gives private ones; pod rm unmounts it")
    func membersShareDevShm() async throws {
        try await withCrpod { crpod in
            let rootfs = try await crpod.startSharedCounterPod("pa")
            let shm = try #require(try await crpod.json(PodInspectJSON.self, ["pod", "inspect", "pa"]).shmDirectory)
            #expect(try Self.mountPoints().contains(Files.parent(of: shm)), "the pod's shm tmpfs is mounted")
            #expect(Files.exists(shm + "/" + Self.counterFile), "the members' file is in the pod's /dev/shm on the host")
            let seen = try await crpod.seenValues("watch")
            #expect(seen.count >= 3 && seen.last! > seen.first!, "watch reads the counter inc writes through its own mapping: \(seen)")

            try await crpod.ok(["pod", "create", "--network", "none", "--share", "net,uts", "noipc"])
            #expect(try await crpod.json(PodInspectJSON.self, ["pod", "inspect", "noipc"]).shmDirectory == nil)
            // mountinfo's 4th field is the mount's root in its filesystem: `/shm` for the pod's bind.
            let showRoot = #"touch /dev/shm/lone; echo "root $(awk '$5 == "/dev/shm" { print $4 }' /proc/self/mountinfo)"; sleep 1000"#
            try await crpod.ok(["run", "--name", "lone", "--pod", "noipc", "--rootfs", rootfs, "--", "sh", "-c", showRoot])
            try await crpod.ok(["run", "--name", "member", "--pod", "pa", "--rootfs", rootfs, "--", "sh", "-c", showRoot.replacingOccurrences(of: "lone", with: "member")])
            #expect(try await eventually { try await crpod.ok(["logs", "lone"]).split(separator: "\n").contains("root /") }, "a private tmpfs at /dev/shm")
            #expect(try await eventually { try await crpod.ok(["logs", "member"]).split(separator: "\n").contains("root /shm") }, "the pod's shm bound at /dev/shm")
            #expect(Files.exists(shm + "/member") && !Files.exists(shm + "/lone"))

            try await crpod.ok(["pod", "rm", "-f", "pa"])
            try await crpod.ok(["pod", "rm", "-f", "noipc"])
            #expect(try await crpod.leftovers() == [], "pod rm unmounts and removes the pod's /dev/shm")
        }
    }

    @Test("whole-pod checkpoint and restore: the archive holds the pod's /dev/shm once; restored, inc counts on from its value and watch still reads it through the shared mapping")
    func wholePodRestoreKeepsTheMappingShared() async throws {
        try await withCrpod { crpod in
            _ = try await crpod.startSharedCounterPod("pa")
            let archive = crpod.base + "/pa.tar.gz"
            try await crpod.ok(["pod", "checkpoint", "--compress", "gzip", "--export", archive, "pa"])
            let before = try #require(try await crpod.seenValues("inc").last)
            let members = try await crpod.runner.run("/bin/tar", ["-tzf", archive])
            let names = members.stdout.split(separator: "\n").map(String.init)
            #expect(names.contains("devshm-checkpoint.tar") && !names.contains { $0.hasSuffix("/devshm-checkpoint.tar") },
                    "one devshm-checkpoint.tar, at the top: \(names)")
            try await crpod.ok(["pod", "rm", "-f", "pa"])

            try await crpod.ok(["pod", "restore", "--import", archive, "--name", "pb"])
            let shm = try #require(try await crpod.json(PodInspectJSON.self, ["pod", "inspect", "pb"]).shmDirectory)
            #expect(Files.exists(shm + "/" + Self.counterFile), "the new pod's /dev/shm holds the archive's file")
            #expect(try await eventually { (try await crpod.seenValues("inc").last ?? 0) > before + 5 }, "inc counts on")
            let restoredIncs = try await crpod.seenValues("inc").filter { $0 > before }
            #expect(restoredIncs.first.map { $0 <= before + 3 } == true, "from where it stopped, not from 0: \(restoredIncs.prefix(3)) after \(before)")
            let watchBefore = try #require(try await crpod.seenValues("watch").last)
            #expect(try await eventually { (try await crpod.seenValues("watch").last ?? 0) > watchBefore + 5 },
                    "watch (which only reads) sees inc's new values: the mapping is still shared")
            try await crpod.ok(["pod", "rm", "-f", "pb"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("one member restored into another pod brings the /dev/shm file it maps (devshm-checkpoint.tar) and counts on there")
    func memberRestoreSeedsTheTargetPod() async throws {
        try await withCrpod { crpod in
            let (archive, before, shm) = try await crpod.checkpointIncForNewPod("pc")
            try await crpod.ok(["restore", "--import", archive, "--pod", "pc"])
            #expect(Files.exists(shm + "/" + Self.counterFile), "seeded from the archive")
            #expect(try await eventually { (try await crpod.seenValues("inc").last ?? 0) > before + 3 }, "inc counts on in pod pc")
        }
    }

    @Test("a target pod that already has the file keeps its own (the restore says so on stderr): the restored member maps the pod's file and counts on from its value")
    func thePodsOwnFileWins() async throws {
        try await withCrpod { crpod in
            let (archive, _, shm) = try await crpod.checkpointIncForNewPod("pc")
            var page = [UInt8](repeating: 0, count: 4096)
            withUnsafeBytes(of: UInt64(1_000_000).littleEndian) { page.replaceSubrange(0..<8, with: $0) }
            try Files.writeAtomically(shm + "/" + Self.counterFile, page, mode: 0o644)

            let restored = try await crpod.run(["restore", "--import", archive, "--pod", "pc"])
            #expect(restored.ok && restored.stderr.contains("note: /dev/shm: the pod's own \(Self.counterFile) kept"), "\(restored.stderr)")
            #expect(try await eventually { (try await crpod.seenValues("inc").last ?? 0) > 1_000_003 }, "the pod's file, not the archive's")
        }
    }

    @Test("--shm-size sizes the pod's tmpfs (a member cannot write past it); refused without ipc shared or malformed; a pod archive carries it to the restored pod")
    func shmSize() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--network", "none", "--shm-size", "1m", "small"])
            let summary = try await crpod.json(PodInspectJSON.self, ["pod", "inspect", "small"])
            #expect(summary.shmSize == 1 << 20)
            let shm = try #require(summary.shmDirectory)
            let mount = try MountTable.parse(Files.readText("/proc/self/mounts")).first { $0.mountPoint == Files.parent(of: shm) }
            #expect(mount?.options.contains("size=1024k") == true, "\(String(describing: mount))")
            let fill = "dd if=/dev/zero of=/dev/shm/big bs=1k count=2048 2>&1; echo status $?; sleep 1000"
            try await crpod.ok(["run", "--name", "filler", "--pod", "small", "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c", fill])
            #expect(try await eventually { try await crpod.ok(["logs", "filler"]).contains("No space left on device") }, "the 1 MiB limit holds")

            try await crpod.expectRefusal(["pod", "create", "--network", "none", "--share", "net,uts", "--shm-size", "1m", "noipc"],
                                          "it does not share ipc", archive: nil)
            try await crpod.expectRefusal(["pod", "create", "--network", "none", "--shm-size", "12x", "bad"], "--shm-size 12x", archive: nil)
            try await crpod.expectRefusal(["pod", "create", "--network", "none", "--shm-size", "1k", "tiny"], "is not between 4k and half", archive: nil)
            #expect(!(try await crpod.ok(["pod", "ls"])).contains("noipc"))

            try await crpod.ok(["rm", "-f", "filler"])
            try await crpod.ok(["run", "--name", "idle", "--pod", "small", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "1000"])
            let archive = crpod.base + "/small.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--export", archive, "small"])
            let shown = try await crpod.runner.run(crpod.crpod, ["archive", "inspect", archive])
            #expect(shown.stdout.contains("Shm:          /dev/shm 1m, content "), "archive inspect shows the pod's /dev/shm: \(shown.stdout)")
            try await crpod.ok(["pod", "rm", "-f", "small"])
            try await crpod.ok(["pod", "restore", "--import", archive, "--name", "again"])
            #expect(try await crpod.json(PodInspectJSON.self, ["pod", "inspect", "again"]).shmSize == 1 << 20, "the size came back")
        }
    }

    static func mountPoints() throws -> [String] {
        try MountTable.parse(Files.readText("/proc/self/mounts")).map(\.mountPoint)
    }
}

struct PodInspectJSON: Decodable {
    var shmDirectory: String?
    var shmSize: UInt64?
}

extension CrpodInstance {
    /// Pod `name` (no network) with `inc`, which increments a counter in a MAP_SHARED mapping
    /// of /dev/shm/crpod-counter every 100 ms and logs `inc N`, and `watch`, which maps the same
    /// file, only reads it and logs `seen N`. Returns the rootfs holding `/bin/shm-share`.
    func startSharedCounterPod(_ name: String) async throws -> String {
        let rootfs = try await rootfsWithProgram("shm-share", source: posixShmShareSource)
        try await ok(["pod", "create", "--network", "none", name])
        try await ok(["run", "--name", "inc", "--pod", name, "--rootfs", rootfs, "--", "/bin/shm-share", "inc"])
        try await ok(["run", "--name", "watch", "--pod", name, "--rootfs", rootfs, "--", "/bin/shm-share", "watch"])
        #expect(try await eventually { try await seenValues("watch").count >= 3 }, "watch sees the counter")
        return rootfs
    }

    /// `startSharedCounterPod("pa")`, `inc` checkpointed into an archive and removed, and a new
    /// pod `target`: the archive, inc's last value, the target's /dev/shm.
    func checkpointIncForNewPod(_ target: String) async throws -> (archive: String, last: Int, shm: String) {
        _ = try await startSharedCounterPod("pa")
        let archive = base + "/inc.tar.zst"
        try await ok(["checkpoint", "--export", archive, "inc"])
        let last = try #require(try await seenValues("inc").last)
        try await ok(["rm", "-f", "inc"])
        try await ok(["pod", "create", "--network", "none", target])
        return (archive, last, try #require(try await json(PodInspectJSON.self, ["pod", "inspect", target]).shmDirectory))
    }

    /// The numbers `member` logged (`inc N` / `seen N`), in order.
    func seenValues(_ member: String) async throws -> [Int] {
        try await ok(["logs", member]).split(separator: "\n").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
    }
}

let posixShmShareSource = """
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* shm-share inc|watch: a counter in a MAP_SHARED mapping of /dev/shm/crpod-counter. */
int main(int argc, char **argv) {
    int inc = argc > 1 && strcmp(argv[1], "inc") == 0;
    int fd;
    while ((fd = open("/dev/shm/crpod-counter", inc ? O_RDWR | O_CREAT : O_RDONLY, 0644)) < 0) usleep(50000);
    if (inc && ftruncate(fd, 4096) != 0) { perror("ftruncate"); return 1; }
    volatile unsigned long *counter = mmap(NULL, 4096, inc ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (counter == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);
    for (;;) {
        if (inc) (*counter)++;
        printf("%s %lu\\n", inc ? "inc" : "seen", *counter);
        fflush(stdout);
        usleep(100000);
    }
}
"""
