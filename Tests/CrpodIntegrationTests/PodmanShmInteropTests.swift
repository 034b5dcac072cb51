#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodLinux
import Testing

/// The other way round: crpod restores what podman 4.3.1 checkpoints, /dev/shm included. A
/// podman pod member's /dev/shm is its infra's shm directory; `podman container checkpoint
/// --export` carries its content as devshm-checkpoint.tar, and `crpod restore --pod` seeds the
/// target pod's own /dev/shm with it before CRIU runs. Part of PodmanInteropTests' serialized
/// suite (its traits apply): both load the same image under their own names, and two podman
/// tests at once raced over it (seen: one test's image left behind, failing its leftovers check).
extension PodmanInteropTests {
    @Test("a podman pod member that wrote /dev/shm/from-podman, exported by podman container checkpoint, is restored by crpod restore --import --pod by image: it counts on, and crpod's pod /dev/shm (the task's own) holds the file")
    func crpodRestoresPodmanMember() async throws {
        try await withPodman { crpod, peer in
            let (archive, checkpointed) = try await checkpointPodmanMember(crpod, peer)
            try await crpod.ok(["pod", "create", "pb"])
            let printed = try await crpod.run(["restore", "--import", archive, "--pod", "pb", "--name", "counter"])
            #expect(printed.ok, "crpod restore: \(printed.stderr)")
            let restored = try await crpod.json(ContainerJSON.self, ["inspect", "counter"])
            #expect(printed.trimmed == restored.id, "crpod prints the restored container's id (and nothing else)")
            #expect(restored.state == "running")
            try await expectCountsOn(crpod, from: checkpointed)

            let shm = try #require(try await crpod.json(PodInspectJSON.self, ["pod", "inspect", "pb"]).shmDirectory)
            #expect(try Files.readText(shm + "/from-podman") == "from-podman\n", "pod pb's /dev/shm seeded from devshm-checkpoint.tar")
            let pid = try await crpod.pid(ofContainer: "counter")
            #expect(try Files.readText("/proc/\(pid)/root/dev/shm/from-podman") == "from-podman\n", "the restored task sees it")
            try Files.writeAtomically(shm + "/from-host", Array("pod pb\n".utf8), mode: 0o644)
            #expect(try Files.readText("/proc/\(pid)/root/dev/shm/from-host") == "pod pb\n", "the task's /dev/shm is pod pb's, not podman's infra's")
            try await crpod.ok(["pod", "rm", "-f", "pb"])
        }
    }

    /// A counter of the test's image in a podman pod that writes /dev/shm/from-podman first,
    /// exported by `podman container checkpoint` (the flags of contrib/podman/make-fixtures.sh).
    /// Returns the archive and the last count podman logged.
    private func checkpointPodmanMember(_ crpod: CrpodInstance, _ peer: Podman) async throws -> (String, Int) {
        try await peer.loadImage(into: crpod)
        let podID = try await peer.createPod()
        let member = peer.restored
        try await peer.ok(["run", "-d", "--pod", podID, "--name", member, peer.image] + shmCounter("from-podman"))
        #expect(try await eventually { lastCount(try await peer.ok(["logs", member])) ?? 0 >= 3 })
        let archive = crpod.base + "/podman-member.tar.zst"
        try await peer.ok(["container", "checkpoint", "--export", archive, "--compress", "zstd", member])
        let checkpointed = try #require(lastCount(try await peer.ok(["logs", member])))
        let listing = try await Podman.member("devshm-checkpoint.tar", of: archive, then: "tar -tf -", runner: crpod.runner)
        #expect(listing.split(separator: "\n").contains { $0.hasSuffix("from-podman") },
                "podman put the file in devshm-checkpoint.tar (else this test proves nothing): \(listing)")
        return (archive, checkpointed)
    }

    /// The restored counter runs under crpod: its log starts where podman's stopped (the same
    /// process, not a new start) and goes on.
    private func expectCountsOn(_ crpod: CrpodInstance, from checkpointed: Int) async throws {
        #expect(try await eventually { lastCount(try await crpod.ok(["logs", "counter"])) ?? 0 > checkpointed + 3 })
        let log = try await crpod.ok(["logs", "counter"])
        let first = log.split(separator: "\n").first { $0.hasPrefix("count ") }.flatMap { Int($0.dropFirst(6)) }
        #expect((first ?? -1) >= checkpointed, "crpod's log goes on from \(checkpointed): first \(String(describing: first))")
    }
}
