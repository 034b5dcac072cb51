#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux
import Testing

/// Cgroup placement and cleanup, in whatever cgroup mode the suite runs under: contrib/test.sh
/// runs it on the host (hybrid here) and again in a private mount namespace with cgroup2 alone
/// at /sys/fs/cgroup (the v2-only layout of Debian 12 and Ubuntu 24.04).
@Suite("cgroups: placement of restored tasks, kill and cleanup", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct CgroupTests {
    @Test("issue flow: run in wa, export, rm, restore into wb — c2 is in wb's cgroup; rm and pod rm leave no cgroup")
    func restoreIntoAnotherPodAfterRemovingTheSource() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "wa"])
            try await crpod.ok(["pod", "create", "wb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "wa", name: "c1")
            let specDump = try await crpod.runner.run("/bin/tar", ["--zstd", "-xOf", archive, "spec.dump"])
            #expect(specDump.stdout.contains("cgroupsPath") && !specDump.stdout.contains("org.criu.config"),
                    "the exported spec does not name this host's CRIU config file: \(specDump.stderr)")
            try await crpod.ok(["rm", "-f", "c1"])
            try await crpod.ok(["restore", "--import", archive, "--pod", "wb", "--name", "c2"])
            try await crpod.expectTasksInOwnCgroup("c2", pod: "wb")
            let c2 = try await crpod.json(ContainerJSON.self, ["inspect", "c2"])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "c2"])) ?? 0) > 5 }, "the counter goes on")
            try await crpod.ok(["rm", "-f", "c2"])
            #expect(try crpod.cgroupDirectories().allSatisfy { !$0.hasSuffix("/" + c2.id) }, "c2's cgroup is gone")
            try await crpod.ok(["pod", "rm", "-f", "wa", "wb"])
            #expect(try crpod.cgroupDirectories() == [], "no cgroup under \(crpod.cgroupParent) in any hierarchy")
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("restored while the source still runs: each stays in its own cgroup and both remove cleanly")
    func restoreNextToTheRunningSource() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "wa"])
            try await crpod.ok(["pod", "create", "wb"])
            try await crpod.ok(["run", "--name", "c1", "--pod", "wa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c1"])) ?? 0 >= 3 })
            try await crpod.ok(["checkpoint", "--leave-running", "--export", crpod.base + "/c1.tar.zst", "c1"])
            try await crpod.ok(["restore", "--import", crpod.base + "/c1.tar.zst", "--pod", "wb", "--name", "c2"])
            try await crpod.expectTasksInOwnCgroup("c1", pod: "wa")
            try await crpod.expectTasksInOwnCgroup("c2", pod: "wb")
            try await crpod.ok(["rm", "-f", "c1"])
            try await crpod.expectTasksInOwnCgroup("c2", pod: "wb")
            try await crpod.ok(["pod", "rm", "-f", "wa", "wb"])
            #expect(try crpod.cgroupDirectories() == [])
        }
    }

    @Test("standalone and in-place restores land in the container's own cgroup")
    func standaloneAndInPlace() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["run", "--name", "s1", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "s1"])) ?? 0 >= 3 })
            try await crpod.ok(["checkpoint", "--export", crpod.base + "/s1.tar.zst", "s1"])
            try await crpod.ok(["rm", "-f", "s1"])
            try await crpod.ok(["restore", "--import", crpod.base + "/s1.tar.zst", "--name", "s2"])
            try await crpod.expectTasksInOwnCgroup("s2")
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "p1", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "p1"])) ?? 0 >= 3 })
            try await crpod.ok(["checkpoint", "p1"])
            try await crpod.ok(["restore", "p1"])
            try await crpod.expectTasksInOwnCgroup("p1", pod: "pa")
            try await crpod.ok(["rm", "-f", "s2"])
            try await crpod.ok(["pod", "rm", "-f", "pa"])
            #expect(try crpod.cgroupDirectories() == [])
            #expect(try await crpod.leftovers() == [])
        }
    }
}

extension CgroupTests {
    @Test("rm -f kills a process runc does not know about in the container's cgroup, and removes the cgroup")
    func removeKillsEverythingInTheCgroup() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "1000"])
            let view = try await crpod.json(ContainerJSON.self, ["inspect", "c"])
            let stray = try #require(try await crpod.runner.run("/bin/sh", ["-c", "sleep 1000 >/dev/null 2>&1 & echo $!"]).stdout
                .split(separator: "\n").first.flatMap { Int32($0) })
            let identity = try ProcessIdentity.of(pid: stray)
            let cgroups = CgroupSet(layout: try CgroupLayout.current())
            for file in try cgroups.procsFiles(view.cgroupPath) { try Files.writeExisting(file, "\(stray)\n") }
            try await crpod.ok(["rm", "-f", "c"])
            #expect(!identity.isAlive(), "the stray process was killed")
            #expect(cgroups.existingDirectories(view.cgroupPath) == [])
            try await crpod.ok(["pod", "rm", "-f", "pa"])
            #expect(try crpod.cgroupDirectories() == [])
        }
    }

    @Test("a runc checkpoint freezes through the container's own cgroup freezer (cgroup.freeze on v2)")
    func checkpointUsesTheCgroupFreezer() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "1000"])
            let view = try await crpod.json(ContainerJSON.self, ["inspect", "c"])
            // runc's choice; the native engine seizes with ptrace instead (NativeDumpPlan.make).
            try await crpod.ok(["checkpoint", "--engine", "runc", "--keep", "c"])
            let log = try Files.readText(crpod.root + "/containers/\(view.id)/checkpoint-work/dump.log")
            let layout = try CgroupLayout.current()
            if layout.mode == .unified, let v2 = CgroupSet(layout: layout).v2 {
                #expect(log.contains("freezing cgroup \(try v2.directory(view.cgroupPath))"))
                #expect(log.contains("cgroup.freeze=1"))
            } else {
                let freezer = try #require(CgroupSet(layout: layout).v1.first { $0.controllers.contains("freezer") })
                #expect(log.contains(try freezer.directory(view.cgroupPath)), "CRIU froze the v1 freezer cgroup")
            }
        }
    }

    @Test("crpod check names the cgroup mode and fails with a fix line when cgroup v2 is not delegated")
    func checkReportsModeAndDelegation() async throws {
        try await withCrpod { crpod in
            let facts = try await crpod.run(["check"])
            let mode = try CgroupLayout.current().mode
            let expected = mode == .unified ? "v2 (unified)" : mode == .hybrid ? "hybrid" : "v1"
            #expect(facts.stdout.contains("cgroups                \(expected)"), "\(facts.stdout)")
            // cgroup2 alone at /sys/fs/cgroup, its mount (never the superblock: no plain
            // `remount,ro`, that would make the host's cgroup2 read-only) made read-only in a
            // private mount namespace: crpod cannot create its cgroups there.
            let readOnly = try await crpod.runner.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
                "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && mount -o remount,bind,ro /sys/fs/cgroup"
                    + " && exec \"$0\" check --root \"$1\" --run-root \"$2\" --config \"$3\"",
                crpod.crpod, crpod.root, crpod.runRoot, crpod.base + "/crpod.conf"])
            #expect(readOnly.status == .exited(1), "\(readOnly.stdout) \(readOnly.stderr)")
            let line = readOnly.stdout.split(separator: "\n").first { $0.contains("cgroup v2 delegation") }.map(String.init) ?? ""
            #expect(line.hasPrefix("FAIL") && line.contains("Read-only file system") && line.contains("→ run crpod as root"), "\(readOnly.stdout)")
        }
    }
}
