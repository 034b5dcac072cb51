import Foundation
import CrpodLinux
import Testing

@Suite("restore on boot", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct BootRestoreTests {
    @Test("the boot list is restored in order with retries, one summary line per item; a restart does not restore twice")
    func bootList() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let config = ["boot_restore = \(archive):pb:booted", "boot_restore = \(crpod.base)/missing.tar.zst:pb:never",
                          "boot_retries = 1", "boot_retry_delay = 0"]
            let first = try await DaemonProcess(crpod, config: config)
            #expect(await first.stop() == 0)
            let log = try Files.readText(crpod.base + "/daemon.log")
            let lines = log.split(separator: "\n").filter { $0.hasPrefix("boot restore ") }
            #expect(lines.count == 2, "\(log)")
            #expect(lines.first?.contains("boot restore 1/2 \(archive) -> pod pb: restored as booted") == true)
            #expect(lines.last?.contains("boot restore 2/2 \(crpod.base)/missing.tar.zst -> pod pb: FAILED after 2 attempts") == true)
            #expect(lines.last?.contains("does not exist") == true, "the reason is given")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "booted"]).state == "running")

            let second = try await DaemonProcess(crpod)
            #expect(await second.stop() == 0)
            let again = try Files.readText(crpod.base + "/daemon.log")
            #expect(again.contains("boot restore 1/2 \(archive) -> pod pb: already running as booted"), "\(again)")
            #expect(try await crpod.ok(["ps", "-a", "-q"]).split(separator: "\n").count == 2, "c and booted, nothing twice")
        }
    }
}
