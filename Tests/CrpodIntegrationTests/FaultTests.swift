#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodDrivers
import CrpodLinux
import Testing

/// kill -9 at every step (CRPOD_FAULT makes crpod SIGKILL itself exactly there, or the test
/// kills it while runc works); the next crpod command reconciles: nothing leaks, and what
/// `ps`/`pod ls` say is true.
@Suite("fault injection: crpod killed at every step", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct FaultTests {
    static let restorePoints = ["restore-after-extract", "restore-after-rootfs", "restore-before-runtime", "restore-after-runtime"]

    @Test("restore killed after extract, after the rootfs, before, during and after runc restore: rolled back on the next command", arguments: restorePoints + ["during-runtime"])
    func restoreKilled(point: String) async throws {
        try await withCrpod { crpod in
            let victim = "victim-" + ObjectIDs.random().prefix(8)
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let baseline = try await crpod.leftovers()
            let bytes = try Files.read(archive)
            let arguments = ["restore", "--import", archive, "--pod", "pb", "--name", victim]
            let outcome = point == "during-runtime"
                ? try await crpod.runKilled(arguments) { Processes.pids(withArgument: "restore").contains { crpod.isRestoreTool($0) } }
                : try await crpod.run(arguments, environment: ["CRPOD_FAULT": point])
            #expect(outcome.status == .signaled(SIGKILL), "crpod was killed at \(point): \(outcome.status) \(outcome.stderr)")
            // Any command that reads state reconciles first.
            let listed = try await crpod.ok(["ps", "-a", "--format", "json"])
            #expect(!listed.contains(victim), "no record of the killed restore")
            let left = try await crpod.leftovers()
            #expect(left == baseline, "no runc state, cgroup, mount or directory left: \(Set(left).symmetricDifference(baseline))")
            #expect(((try? Files.listDirectory(crpod.root + "/journal")) ?? []).isEmpty, "journal settled")
            #expect(((try? Files.listDirectory(crpod.root + "/work")) ?? []).isEmpty, "no temp dir left")
            #expect(Processes.pids(withArgument: victim).isEmpty)
            if point == "during-runtime" {
                // No CRIU (nor the delay wrapper about to exec it) works on for the settled
                // restore: its id is inside CRIU's arguments (cgroup roots, paths), never a whole one.
                #expect(!Processes.pids(withArgument: "restore").contains { crpod.isRestoreTool($0) }, "the settle killed the restore tool")
                try await Task.sleep(for: .milliseconds(1500))  // the delay wrapper would have exec'd CRIU by now
                #expect(!Processes.pids(withArgument: "restore").contains { crpod.isRestoreTool($0) }, "and no CRIU started afterwards")
            }
            try await crpod.expectNoCRIURules(pod: "pb")
            #expect(try Files.read(archive) == bytes, "archive untouched")
            // And the same restore then works.
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", victim])
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", victim]).state == "running")
        }
    }

    @Test("pod create and run killed midway leave no infra, cgroup or runtime state", arguments: ["pod-after-cgroup", "pod-after-infra", "pod-after-shm", "run-after-create"])
    func createKilled(point: String) async throws {
        try await withCrpod { crpod in
            let victim = "victim-" + ObjectIDs.random().prefix(8)
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "keep", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            let baseline = try await crpod.leftovers()
            let arguments = point.hasPrefix("pod") ? ["pod", "create", victim]
                : ["run", "--name", victim, "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "1000"]
            let outcome = try await crpod.run(arguments, environment: ["CRPOD_FAULT": point])
            #expect(outcome.status == .signaled(SIGKILL))
            let pods = try await crpod.ok(["pod", "ls"])
            let containers = try await crpod.ok(["ps", "-a"])
            #expect(!pods.contains(victim) && !containers.contains(victim))
            #expect(try await crpod.leftovers() == baseline)
            #expect(Processes.pids(withArgument: victim).isEmpty, "no infra or container process left")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "keep"]).state == "running", "the rest is untouched")
        }
    }

    @Test("checkpoint killed after runc dumped: ps tells the truth and rm leaves nothing")
    func checkpointKilledAfterDump() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            let baseline = try await crpod.leftovers()
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            let pid = try await crpod.pid(ofContainer: "c")
            let exports = crpod.base + "/exports"
            try Files.makeDirectories(exports, mode: 0o700)
            let outcome = try await crpod.run(["checkpoint", "--export", exports + "/c.tar.zst", "c"], environment: ["CRPOD_FAULT": "checkpoint-after-dump"])
            #expect(outcome.status == .signaled(SIGKILL))
            // (Gone, or a zombie: PID 1 here does not reap orphans.)
            let stat = (try? Files.readText("/proc/\(pid)/stat")).flatMap { try? ProcStat.parse($0) }
            #expect(stat == nil || stat?.isZombieOrDead == true, "runc stopped the container after the dump")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "exited", "ps/inspect say what runc says")
            #expect(try Files.listDirectory(exports).isEmpty)
            try await crpod.ok(["rm", "c"])
            #expect(try await crpod.leftovers() == baseline)
        }
    }

    @Test("export killed after its temp file: no partial archive under any name; the container keeps its checkpoint")
    func exportKilled() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            let exports = crpod.base + "/exports"
            try Files.makeDirectories(exports, mode: 0o700)
            let outcome = try await crpod.run(["checkpoint", "--export", exports + "/c.tar.zst", "c"], environment: ["CRPOD_FAULT": "export-after-temp"])
            #expect(outcome.status == .signaled(SIGKILL))
            _ = try await crpod.ok(["ps", "-a"])
            try await crpod.ok(["pod", "create", "other"])  // a mutating command reconciles for sure
            #expect(try Files.listDirectory(exports).isEmpty, "no c.tar.zst and no c.tar.zst.part-*")
        }
    }

    @Test("an export's images go to a private tmpfs under the run root; killed with it mounted, the next command unmounts it",
          arguments: ["checkpoint-after-tmpfs", "checkpoint-after-dump", "export-after-temp"])
    func exportTmpfsKilled(point: String) async throws {
        try await withCrpod { crpod in
            let (baseline, exports) = try await crpod.counterToExport(pod: "pa", name: "c")
            let outcome = try await crpod.run(["checkpoint", "--export", exports + "/c.tar.zst", "c"], environment: ["CRPOD_FAULT": point])
            #expect(outcome.status == .signaled(SIGKILL), "\(outcome.status) \(outcome.stderr)")
            let scratch = try crpod.mountsUnderRunRoot()
            #expect(scratch.count == 1 && scratch.first?.fsType == "tmpfs", "one private tmpfs while crpod ran: \(scratch)")
            if point != "checkpoint-after-tmpfs", let mount = scratch.first {
                #expect(Files.exists(mount.mountPoint + "/checkpoint/inventory.img"), "CRIU wrote the images to the tmpfs")
            }
            _ = try await crpod.ok(["ps", "-a"])  // reconciles: the journal names the mount
            #expect(try crpod.mountsUnderRunRoot().isEmpty, "the tmpfs is unmounted")
            #expect(((try? Files.listDirectory(crpod.runRoot + "/work")) ?? []).isEmpty, "its mount point is removed")
            #expect(((try? Files.listDirectory(crpod.root + "/journal")) ?? []).isEmpty, "journal settled")
            #expect(try Files.listDirectory(exports).isEmpty)
            if point == "checkpoint-after-tmpfs" {
                #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "running", "killed before the dump")
                try await crpod.ok(["checkpoint", "--export", exports + "/c.tar.zst", "c"])
                #expect(try await crpod.json(InspectionJSON.self, ["archive", "inspect", exports + "/c.tar.zst"]).valid)
                #expect(try crpod.mountsUnderRunRoot().isEmpty, "a finished export unmounts its tmpfs")
                #expect(((try? Files.listDirectory(crpod.runRoot + "/work")) ?? []).isEmpty)
            }
            try await crpod.ok(["rm", "-f", "c"])
            #expect(try await crpod.leftovers() == baseline)
        }
    }

    @Test("disk full: export to a small tmpfs and import into a root on a small tmpfs fail cleanly")
    func diskFull() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            let fill = ["sh", "-c", "dd if=/dev/urandom of=/big bs=1M count=12 2>/dev/null; i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done"]
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + fill)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 2 })
            let small = crpod.base + "/small"
            try Files.makeDirectories(small, mode: 0o700)
            try Mounts.mountTmpfs(at: small, sizeBytes: 4 << 20)
            defer { try? Mounts.unmount(small) }
            let full = try await crpod.run(["checkpoint", "--leave-running", "--export", small + "/c.tar.zst", "c"])
            #expect(!full.ok && full.stderr.contains("No space left on device"), "\(full.stderr)")
            // The images were on the export's tmpfs: copied into the container directory first.
            #expect(full.stderr.contains("the checkpoint is kept in \(crpod.root)/containers/"), "\(full.stderr)")
            #expect(try Files.listDirectory(small).isEmpty, "no partial file under the final or a temp name")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "running")

            let archive = crpod.base + "/c.tar.zst"
            try await crpod.ok(["checkpoint", "--leave-running", "--export", archive, "c"])
            let tiny = CrpodInstance.sibling(of: crpod, rootOnTmpfsBytes: 8 << 20)
            try await withInstance(tiny) { other in
                try await other.ok(["pod", "create", "pb"])
                let baseline = try await other.leftovers()
                let refused = try await other.run(["restore", "--import", archive, "--pod", "pb", "--name", "c2"])
                #expect(!refused.ok && refused.stderr.contains("No space left on device"), "\(refused.stderr)")
                #expect(try await other.leftovers() == baseline)
                #expect(try await other.ok(["ps", "-a", "-q"]).isEmpty)
            }
        }
    }
}

extension CrpodInstance {
    /// Mounts below the run root (an export's private tmpfs while it lives).
    /// Mounts under the run root other than the pods' own /dev/shm tmpfs (`<runRoot>/pods/`).
    func mountsUnderRunRoot() throws -> [MountEntry] {
        try MountTable.parse(Files.readText("/proc/self/mounts")).filter {
            $0.mountPoint.hasPrefix(runRoot + "/") && !$0.mountPoint.hasPrefix(runRoot + "/pods/")
        }
    }

    /// Pod `pod` with the busy counter `name` running in it, and an empty exports directory;
    /// returns the leftovers before the container ran (what `rm` must get back to).
    func counterToExport(pod: String, name: String) async throws -> (baseline: [String], exports: String) {
        try await ok(["pod", "create", pod])
        let baseline = try await leftovers()
        try await ok(["run", "--name", name, "--pod", pod, "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
        let exports = base + "/exports"
        try Files.makeDirectories(exports, mode: 0o700)
        return (baseline, exports)
    }

    /// Runs crpod and SIGKILLs it as soon as `when` holds (polled every 2 ms). The polling and
    /// the wait for its exit run on a thread of their own (`BlockingThread`): several of these
    /// in flight must not occupy the 2 threads of the cooperative pool.
    func runKilled(_ arguments: [String], environment: [String: String] = [:],
                   when condition: @escaping @Sendable () -> Bool) async throws -> Outcome {
        let engine = arguments.first == "restore" ? try restoreEngineArguments() : []
        let process = try ChildProcess(
            crpod, arguments.prefix(1) + ["--root", root, "--run-root", runRoot, "--config", base + "/crpod.conf"] + engine + arguments.dropFirst(),
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 })
        let status = try await BlockingThread.run("crpod \(arguments.first ?? ""), killed on a condition") { _ in
            let deadline = ContinuousClock.now + .seconds(30)
            while process.isRunning && ContinuousClock.now < deadline {
                if condition() { kill(process.pid, SIGKILL); break }
                usleep(2000)
            }
            process.waitBlocking()
            return process.killedBySignal ? ToolStatus.signaled(process.terminationStatus) : .exited(process.terminationStatus)
        }
        return Outcome(status: status, stdout: "", stderr: "")
    }

    /// Whether `pid` is a runc process (its argv[0] ends in runc).
    func isRunc(_ pid: Int32) -> Bool {
        guard let bytes = try? Files.read("/proc/\(pid)/cmdline", limit: 4096), let first = bytes.split(separator: 0).first else { return false }
        return String(decoding: first, as: UTF8.self).hasSuffix("runc")
    }

    /// `--engine` for a restore when the tests restore natively, with a `criu` that waits a
    /// second before `criu restore` (a bare CRIU restore is over before a poll can see it).
    func restoreEngineArguments() throws -> [String] {
        let engine = PrivilegedHost.restoreEngine ?? "native"  // unset: crpod's default engine
        guard engine == "native", let real = ToolRunner.which("criu", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "") else {
            return ["--engine", engine]
        }
        let wrapper = base + "/slow/criu"
        try Files.makeDirectories(base + "/slow")
        let script = "#!/bin/sh\n[ \"$1\" = restore ] && sleep 1\nexec \"\(real)\" \"$@\"\n"
        try Files.writeAtomically(wrapper, Array(script.utf8), mode: 0o755)
        return ["--engine", engine, "--criu", wrapper]
    }

    /// Whether `pid` runs a restore of this instance: runc, or (natively) CRIU or its wrapper
    /// script, with an argument under the instance's directory (other tests restore too).
    func isRestoreTool(_ pid: Int32) -> Bool {
        guard (PrivilegedHost.restoreEngine ?? "native") == "native" else { return isRunc(pid) && isOurs(pid) }
        return isCRIU(pid) && isOurs(pid)
    }

    /// Whether `pid` runs CRIU: a `criu` among its first 4 arguments (the provisioned wrapper
    /// runs CRIU through its private ld.so: argv[0] is the loader, `--argv0 criu` follows; the
    /// tests' delay wrapper is `sh <dir>/criu`).
    func isCRIU(_ pid: Int32) -> Bool {
        commandLine(pid).prefix(4).contains { $0.hasSuffix("criu") }
    }

    /// Whether one of `pid`'s arguments is a path under this instance's directory.
    func isOurs(_ pid: Int32) -> Bool {
        commandLine(pid).contains { $0.hasPrefix(base + "/") || $0.contains(cgroupParent + "/") }
    }

    /// Pids of CRIU processes (or their wrappers) working for this instance.
    func criuProcesses(verb: String) -> [Int32] {
        Processes.pids(withArgument: verb).filter { isCRIU($0) && isOurs($0) }
    }

    func commandLine(_ pid: Int32) -> [String] {
        guard let bytes = try? Files.read("/proc/\(pid)/cmdline", limit: 1 << 16) else { return [] }
        return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// CRIU's network-lock rules (iptables chain or nft table named CRIU) are not in the pod's netns.
    func expectNoCRIURules(pod: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let infra = try await infraPid(ofPod: pod)
        let iptables = try await runner.run("/usr/bin/nsenter", ["--net=/proc/\(infra)/ns/net", "iptables-save"])
        let nft = try await runner.run("/usr/bin/nsenter", ["--net=/proc/\(infra)/ns/net", "nft", "list", "ruleset"])
        #expect(!iptables.stdout.contains("CRIU") && !nft.stdout.contains("CRIU"), "CRIU lock rules left: \(iptables.stdout) \(nft.stdout)",
                sourceLocation: sourceLocation)
    }
}
