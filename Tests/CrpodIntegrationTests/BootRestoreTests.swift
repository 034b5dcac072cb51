import Foundation
#if canImport(Glibc)
import Glibc
#endif
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

    @Test("a whole-pod archive in the boot list creates its pod with every member; a restart leaves it alone; after a 'reboot' (infra and members killed) the stale pod is replaced; ARCHIVE:POD:NAME is refused for it")
    func bootListPodArchive() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            let archive = crpod.base + "/pa.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--export", archive, "pa"])
            try await crpod.ok(["pod", "rm", "-f", "pa"])
            let config = ["boot_restore = \(archive):app", "boot_restore = \(archive):other:named", "boot_retries = 0", "boot_retry_delay = 0"]

            let lines = try await Self.bootLines(crpod, config: config)
            #expect(lines.first?.contains("boot restore 1/2 \(archive) -> pod app: restored as pod app with c in ") == true, "\(lines)")
            #expect(lines.last?.contains("-> pod other: FAILED (not retried: a whole-pod archive's members keep their names)") == true, "\(lines)")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "running")
            let first = try await crpod.json(ContainerJSON.self, ["inspect", "c"]).id

            let restart = try await Self.bootLines(crpod, config: [])  // crpod.conf has the lines already
            #expect(restart.first?.hasSuffix("-> pod app: already running as pod app") == true, "\(restart)")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).id == first, "not restored twice")

            // A reboot, as far as the pod knows: its infra and its member are gone, the records stay.
            let member = try await crpod.pid(ofContainer: "c")
            let infra = try await crpod.infraPid(ofPod: "app")
            for pid in [member, infra] { kill(pid, SIGKILL) }
            #expect(try await eventually { kill(infra, 0) != 0 && kill(member, 0) != 0 })
            let rebooted = try await Self.bootLines(crpod, config: [])
            #expect(rebooted.first?.contains("-> pod app: restored as pod app with c in ") == true, "\(rebooted)")
            #expect(rebooted.first?.contains("the stale pod app (its infra gone, an earlier boot's) was removed first") == true, "\(rebooted)")
            let again = try await crpod.json(ContainerJSON.self, ["inspect", "c"])
            #expect(again.state == "running" && again.id != first)
            try await crpod.ok(["pod", "rm", "-f", "app"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    /// Starts and stops a daemon with `config`; its `boot restore` lines.
    static func bootLines(_ crpod: CrpodInstance, config: [String]) async throws -> [String] {
        let daemon = try await DaemonProcess(crpod, config: config)
        #expect(await daemon.stop() == 0)
        let lines = try Files.readText(crpod.base + "/daemon.log").split(separator: "\n").filter { $0.hasPrefix("boot restore ") }.map(String.init)
        try Files.removeTree(crpod.base + "/daemon.log")
        return lines
    }
}
