import Foundation
import Testing
import CrpodLinux

/// kill -9 of crpod while the native engine's `criu dump` runs. CRIU runs in its own process
/// group and outlives crpod, as it does under runc: it finishes the dump (and, without -R, ends
/// the tree). What crpod itself made — the journaled images tmpfs, the export's temp file — must
/// be gone after the next command, and the container must still be removable with nothing left.
@Suite("crpod killed during a native dump", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct NativeDumpKillTests {
    @Test("killed while CRIU dumps: the next command settles the journal and unmounts the tmpfs; rm leaves nothing")
    func killedDuringNativeDump() async throws {
        try await withCrpod { crpod in
            let (baseline, exports) = try await crpod.counterToExport(pod: "pa", name: "c")
            let outcome = try await crpod.runKilled(["checkpoint", "--engine", "native", "--export", exports + "/c.tar.zst", "c"]) {
                !crpod.criuProcesses(verb: "dump").isEmpty
            }
            #expect(outcome.status == .signaled(SIGKILL), "crpod was killed while criu dump ran: \(outcome.status)")
            #expect(try await eventually(seconds: 30) { crpod.criuProcesses(verb: "dump").isEmpty }, "CRIU ended on its own")
            _ = try await crpod.ok(["ps", "-a"])  // reconciles
            #expect(try crpod.mountsUnderRunRoot().isEmpty, "the images tmpfs is unmounted")
            #expect(((try? Files.listDirectory(crpod.root + "/journal")) ?? []).isEmpty, "journal settled")
            #expect(try Files.listDirectory(exports).isEmpty, "no archive and no temp file")
            try await crpod.ok(["rm", "-f", "c"])
            #expect(try await crpod.leftovers() == baseline)
        }
    }
}
