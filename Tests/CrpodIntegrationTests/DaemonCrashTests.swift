#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// The daemon killed (SIGKILL) in the middle of a spooled restore: after a restart nothing
/// has leaked and the archive is handled exactly once.
@Suite("daemon killed mid-restore", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct DaemonCrashTests {
    @Test("SIGKILL at each restore step: the restart settles the archive exactly once, nothing leaked",
          arguments: ["restore-after-extract", "restore-before-runtime", "restore-after-runtime"])
    func killedMidRestore(point: String) async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let baseline = try await crpod.leftovers()
            let spool = crpod.root + "/spool/incoming"
            let first = try await DaemonProcess(crpod, arguments: ["--watch", spool + ":pb"], environment: ["CRPOD_FAULT": point])
            try Files.writeAtomically(spool + "/job.tar.zst.part", try Files.read(archive))
            #expect(rename(spool + "/job.tar.zst.part", spool + "/job.tar.zst") == 0)
            await first.exited()
            #expect(first.process.killedBySignal && first.process.terminationStatus == SIGKILL, "killed at \(point)")
            #expect(Files.exists(spool + "/processing/job.tar.zst"), "the archive waits in processing/, not lost")

            let second = try await DaemonProcess(crpod, arguments: ["--watch", spool + ":pb"])
            #expect(try await eventually { Files.exists(spool + "/done/job.tar.zst.result.json") })
            let containers = try await crpod.json([ContainerJSON].self, ["ps", "-a"])
            let podB = try await crpod.json(PodJSON.self, ["pod", "inspect", "pb"]).id
            let restored = containers.filter { $0.pod == podB }
            #expect(restored.count == 1 && restored.first?.state == "running", "restored exactly once: \(restored.map(\.name))")
            let added = Set(try await crpod.leftovers()).subtracting(baseline)
            let id = try #require(restored.first?.id)
            #expect(!added.isEmpty && added.allSatisfy { $0.contains(id) }, "only the restored container's state, mount and directory are new: \(added)")
            #expect(((try? Files.listDirectory(crpod.root + "/journal")) ?? []).isEmpty)
            #expect(try Files.listDirectory(spool + "/processing").isEmpty)
            #expect(try Files.read(spool + "/done/job.tar.zst") == Files.read(archive), "the archive is kept, unchanged")

            // Dropped again (same bytes), it is recognised and not restored a second time.
            try Files.writeAtomically(spool + "/again.tar.zst", try Files.read(archive))
            #expect(try await eventually { Files.exists(spool + "/done/again.tar.zst.result.json") })
            #expect(try Files.readText(spool + "/done/again.tar.zst.result.json").contains("duplicateOf"))
            #expect(try await crpod.json([ContainerJSON].self, ["ps", "-a"]).filter { $0.pod == podB }.count == 1)
            #expect(await second.stop() == 0)
        }
    }
}
