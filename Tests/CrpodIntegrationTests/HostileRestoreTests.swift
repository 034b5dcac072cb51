#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// Every hostile archive, built on the fly from a real checkpoint, goes through the real
/// `crpod restore` (or the daemon): refused with a clear error, nothing written outside the
/// work dir, no process started, the archive left as it was.
@Suite("hostile archives end to end", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct HostileRestoreTests {
    /// Case → words the refusal must contain.
    static let refusals: [(String, String)] = [
        ("outer-dotdot", "../escaped"), ("outer-absolute", "escaped"), ("outer-symlink", "symbolic link"),
        ("outer-hardlink", "hard link"), ("outer-device", "character device"), ("outer-fifo", "fifo"),
        ("outer-long-name", "aaaaaaaa"), ("rootfs-dotdot", "escaped"), ("rootfs-absolute", "escaped"),
        ("rootfs-symlink", "etc2"), ("rootfs-hardlink", "pw"), ("rootfs-device", "dev-null"),
        ("deleted-outside", "deleted.files"), ("bomb", "pages-99.img"), ("truncated", "truncated"),
        ("header-corrupt", "tar"), ("manifest-mismatch", "spec.dump"), ("config-malformed", "config.dump"),
        ("config-deep", "config.dump"), ("spec-oversized", "spec.dump"), ("missing-inventory", "inventory.img"),
        ("config-id-traversal", "container id that is not 64 lowercase hex digits"),
        ("spec-host-mountns", "joins the mount namespace at /proc/1/ns/mnt"),
    ]

    @Test("refused by crpod restore: clear error, nothing outside the work dir, no process, archive unchanged")
    func refusedByRestore() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let canary = crpod.base + "/canary"
            try Files.writeAtomically(canary, Array("keep me".utf8))
            let victim = "victim-" + ObjectIDs.random().prefix(8)
            for (name, words) in Self.refusals {
                let hostile = try await crpod.hostileArchive(from: archive, case: name)
                try await crpod.expectRefusal(["restore", "--import", hostile, "--pod", "pb", "--name", victim], words, archive: hostile)
                #expect(!Files.exists(crpod.base + "/escaped"), "\(name): nothing written outside the work dir")
                #expect(try Files.readText(canary) == "keep me", "\(name): a host file named in the archive survives")
                #expect(Processes.pids(withArgument: victim).isEmpty, "\(name): no process started")
            }
            // The untouched copy still restores: the refusals were about the hostile parts.
            let identity = try await crpod.hostileArchive(from: archive, case: "identity")
            try await crpod.ok(["restore", "--import", identity, "--pod", "pb", "--name", "fine"])
        }
    }

    @Test("OCI hooks in an archive's spec never run: the restore drops them")
    func hooksDropped() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let hostile = try await crpod.hostileArchive(from: archive, case: "spec-hooks")
            try await crpod.ok(["restore", "--import", hostile, "--pod", "pb", "--name", "hooked"])
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "hooked"]).state == "running")
            #expect(!Files.exists(crpod.base + "/hooked"), "no hook ran on the host")
            let config = try Files.readText(try await crpod.json(ContainerJSON.self, ["inspect", "hooked"]).bundle + "/config.json")
            #expect(!config.contains("\"hooks\""))
        }
    }

    @Test("a setuid file in the rootfs diff arrives without its setuid and setgid bits")
    func setuidStripped() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let hostile = try await crpod.hostileArchive(from: archive, case: "rootfs-setuid")
            try await crpod.ok(["restore", "--import", hostile, "--pod", "pb", "--name", "suid"])
            let container = try await crpod.json(ContainerJSON.self, ["inspect", "suid"])
            var info = stat()
            try #require(stat(Files.parent(of: container.bundle) + "/upper/suid-file", &info) == 0)
            #expect(info.st_mode & (S_ISUID | S_ISGID) == 0, "mode \(String(info.st_mode, radix: 8))")
        }
    }

    @Test("the daemon's policy refuses host bind mounts, added capabilities, devices and device-injection annotations")
    func refusedByPolicy() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(crpod.base)"])
            let cases = [("policy-bind", "bind mount of host path /etc"), ("policy-caps", "adds capabilities CAP_SYS_ADMIN"),
                         ("policy-device", "creates device /dev/sda"), ("policy-annotation", "annotation io.kubernetes.cri-o.Devices injects devices"),
                         ("policy-all-devices", "allows access to all devices"),
                         ("policy-host-rootfs", "rootfs / is outside the allowed rootfs directories")]
            let victim = "victim-" + ObjectIDs.random().prefix(8)
            for (name, words) in cases {
                let hostile = try await crpod.hostileArchive(from: archive, case: name)
                let before = try await crpod.leftovers()
                let bytes = try Files.read(hostile)
                let refusal = try await daemon.json(ErrorJSON.self, "POST", "/v1/restore", body: #"{"importPath":"\#(hostile)","pod":"pb","name":"\#(victim)"}"#, status: 422)
                #expect(refusal.error.contains("restore refused by policy") && refusal.error.contains(words), "\(name): \(refusal.error)")
                #expect(try await crpod.leftovers() == before, "\(name): nothing left behind")
                #expect(Processes.pids(withArgument: victim).isEmpty, "\(name): no process started")
                #expect(try Files.read(hostile) == bytes)
            }
            // The same archives through the spool land in failed/ with the reason.
            let spool = crpod.root + "/spool/incoming"
            let hostile = try await crpod.hostileArchive(from: archive, case: "policy-bind")
            try Files.writeAtomically(spool + "/evil.tar.target", Array("pb".utf8))
            #expect(rename(hostile, spool + "/evil.tar") == 0)
            #expect(try await eventually { Files.exists(spool + "/failed/evil.tar.result.json") })
            #expect(try Files.readText(spool + "/failed/evil.tar.result.json").contains("restore refused by policy"))
            #expect(try await crpod.ok(["ps", "-a", "-q"]).split(separator: "\n").count == 1, "only the original container")
            #expect(await daemon.stop() == 0)
        }
    }
}
