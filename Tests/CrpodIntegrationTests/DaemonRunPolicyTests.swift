import Foundation
import CrpodLinux
import Testing

extension CrpodInstance {
    /// Replaces the instance's config with only its cgroup parent: no allow_rootfs at all,
    /// the daemon's default.
    func writeConfigWithoutRootfsAllowList() throws {
        try Files.writeAtomically(base + "/crpod.conf", Array("cgroup_parent = \"\(cgroupParent)\"\n".utf8))
    }
}

@Suite("the daemon's rootfs and seccomp policy on every path that starts a process", .serialized,
       .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct DaemonRunPolicyTests {
    func runBody(_ name: String, rootfs: String, seccomp: String = "") -> String {
        #"{"name":"\#(name)","rootfs":"\#(rootfs)","command":["sleep","1000"]\#(seccomp)}"#
    }

    /// POST /v1/containers expecting a 422 naming `message`, with nothing left on the host.
    func expectRunRefused(_ daemon: DaemonProcess, _ crpod: CrpodInstance, body: String, _ message: String,
                          sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try await crpod.leftovers()
        let refusal = try await daemon.json(ErrorJSON.self, "POST", "/v1/containers", body: body, status: 422, sourceLocation: sourceLocation)
        #expect(refusal.error.hasPrefix("run refused by policy:") && refusal.error.contains(message), "\(refusal.error)", sourceLocation: sourceLocation)
        #expect(try await crpod.leftovers() == before, "no runc state, cgroup, mount or container directory", sourceLocation: sourceLocation)
        #expect(try await crpod.ok(["ps", "-a", "-q"]).isEmpty, "no container record", sourceLocation: sourceLocation)
    }

    @Test("with no allow_rootfs the API runs nothing: rootfs / is refused with nothing left")
    func emptyAllowListAllowsNothing() async throws {
        try await withCrpod { crpod in
            try crpod.writeConfigWithoutRootfsAllowList()
            let daemon = try await DaemonProcess(crpod, logLevel: nil)
            let warning = try daemon.logLines().filter { $0.contains("the restore policy allows no rootfs") }
            #expect(warning.count == 1 && warning[0].contains("warning") && warning[0].contains("`allow_rootfs = DIR`")
                    && warning[0].contains(crpod.base + "/crpod.conf"), "one start warning at the default level: \(warning)")
            try await expectRunRefused(daemon, crpod, body: runBody("host", rootfs: "/"),
                                       "base rootfs / is not allowed: no allow_rootfs directories are configured")
            try await expectRunRefused(daemon, crpod, body: runBody("busy", rootfs: PrivilegedHost.rootfs),
                                       "no allow_rootfs directories are configured")
            #expect(await daemon.stop() == 0)
            let root = try await crpod.ok(["run", "--name", "cli", "--rootfs", "/", "--", "true"])
            #expect(!root.isEmpty, "the root CLI stays unlimited")
        }
    }

    @Test("an allowed rootfs runs with the default filter; rootfs /, a symlink to /, and seccomp changes are refused")
    func allowListApplies() async throws {
        try await withCrpod { crpod in
            let daemon = try await DaemonProcess(crpod)
            try await expectRunRefused(daemon, crpod, body: runBody("host", rootfs: "/"), "rootfs / is outside the allowed rootfs directories")
            try #require(symlink("/", crpod.base + "/hostroot") == 0)
            try await expectRunRefused(daemon, crpod, body: runBody("link", rootfs: crpod.base + "/hostroot"), "rootfs / is outside")
            try await expectRunRefused(daemon, crpod, body: runBody("free", rootfs: PrivilegedHost.rootfs, seccomp: #","seccomp":"unconfined""#),
                                       "no seccomp filter (unconfined)")
            try await expectRunRefused(daemon, crpod, body: runBody("own", rootfs: PrivilegedHost.rootfs, seccomp: #","seccomp":{"defaultAction":"SCMP_ACT_ALLOW"}"#),
                                       "a custom seccomp profile")

            let started = try await daemon.json(ContainerJSON.self, "POST", "/v1/containers", body: runBody("ok", rootfs: PrivilegedHost.rootfs), status: 201)
            #expect(started.state == "running")
            let status = try seccompStatus(pid: try #require(started.pid))
            #expect(status.mode == "2" && status.filters == "1", "\(status)")
            let explicit = try await daemon.json(ContainerJSON.self, "POST", "/v1/containers",
                                           body: runBody("dflt", rootfs: PrivilegedHost.rootfs, seccomp: #","seccomp":"default""#), status: 201)
            #expect(try seccompStatus(pid: try #require(explicit.pid)).mode == "2")
            #expect(await daemon.stop() == 0)
        }
    }

    @Test("allow_privileged lets the API choose unconfined or a profile; a bad profile is a 400 naming the fault")
    func privilegedSeccompChoices() async throws {
        try await withCrpod { crpod in
            let daemon = try await DaemonProcess(crpod, config: ["allow_privileged = true"])
            let free = try await daemon.json(ContainerJSON.self, "POST", "/v1/containers",
                                       body: runBody("free", rootfs: PrivilegedHost.rootfs, seccomp: #","seccomp":"unconfined""#), status: 201)
            #expect(try seccompStatus(pid: try #require(free.pid)).mode == "0")
            let badProfile = #","seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"NOPE"}]}"#
            let bad = try await daemon.json(ErrorJSON.self, "POST", "/v1/containers", body: runBody("bad", rootfs: PrivilegedHost.rootfs, seccomp: badProfile), status: 400)
            #expect(bad.error.contains("seccomp profile in the request's seccomp field: syscalls[0].action: unknown action \"NOPE\""), "\(bad.error)")
            #expect(await daemon.stop() == 0)
        }
    }

    @Test("boot restore of an archive whose rootfs is not allowed fails with the policy message, once (not retried), nothing restored")
    func bootRestoreObeysThePolicy() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let before = try await crpod.leftovers()
            try crpod.writeConfigWithoutRootfsAllowList()
            let daemon = try await DaemonProcess(crpod, config: ["boot_restore = \(archive):pb:booted", "boot_retries = 2", "boot_retry_delay = 1"])
            #expect(await daemon.stop() == 0)
            let log = try Files.readText(crpod.base + "/daemon.log")
            let line = log.split(separator: "\n").first { $0.hasPrefix("boot restore 1/1 ") }.map(String.init) ?? log
            #expect(line.contains("FAILED (not retried: the archive itself is refused)") && line.contains("restore refused by policy"), "\(line)")
            #expect(log.components(separatedBy: "boot restore attempt failed").count == 2, "one attempt only: \(log)")
            #expect(log.contains("- base rootfs \(PrivilegedHost.rootfs) is not allowed: no allow_rootfs directories are configured"), "\(log)")
            #expect(try await crpod.run(["inspect", "booted"]).ok == false, "no container record")
            #expect(try await crpod.leftovers() == before, "nothing left behind")
        }
    }
}
