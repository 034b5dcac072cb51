#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// A restore whose runtime hangs (seen: CRIU 4.2.1 deadlocks after "Unable to restore
/// capabilities") is killed at `runtime_timeout` with everything it started, and rolled back.
@Suite("runtime time limit", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct RuntimeTimeoutTests {
    @Test("a hung runc restore and its children are killed at runtime_timeout; nothing is left and the archive restores after")
    func hungRestoreIsKilledAndRolledBack() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let baseline = try await crpod.leftovers()
            let bytes = try Files.read(archive)
            try crpod.useHangingRestoreRuntime(timeoutSeconds: 3)
            let started = ContinuousClock.now
            // runc's path (the native engine runs CRIU without runc; its own time limit is the same ToolRunner's).
            let outcome = try await crpod.run(["restore", "--engine", "runc", "--import", archive, "--pod", "pb", "--name", "hung"])
            #expect(!outcome.ok)
            #expect(ContinuousClock.now - started < .seconds(300), "ended long before the runtime would have (1000 s): the limit held")
            #expect(outcome.stderr.contains("did not end within 3.0 seconds and was killed"), "\(outcome.stderr)")
            let child = try #require(Int32(Files.readText(crpod.base + "/hang-marker").filter(\.isNumber)))
            #expect(ToolRunnerProbe.isGoneOrZombie(child), "the runtime's child \(child) was killed")
            let left = try await crpod.leftovers()  // mounts included: the left-over cgroup yard was detached
            #expect(left == baseline, "nothing left: \(Set(left).symmetricDifference(baseline))")
            #expect(try Files.read(archive) == bytes, "archive untouched")
            try crpod.useRealRuntime()
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "after"])
        }
    }
}

enum ToolRunnerProbe {
    /// Gone, or a zombie nobody reaps (PID 1 here does not reap orphans), within 5 s.
    static func isGoneOrZombie(_ pid: Int32) -> Bool { Processes.waitUntilNotRunning(pid, seconds: 5) }
}

extension CrpodInstance {
    /// Points the instance's config at a runtime whose `restore` never ends (it and a child
    /// sleep, like runc waiting on a stuck CRIU, with a mount left in its work directory) and
    /// sets `runtime_timeout`.
    func useHangingRestoreRuntime(timeoutSeconds: Int) throws {
        let candidates: [String] = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"]
        let runc = try #require(candidates.first { path in access(path, X_OK) == 0 })
        let wrapper = base + "/hanging-runc"
        let marker = base + "/hang-marker"
        let script = """
            #!/bin/sh
            work=; previous=
            for a in "$@"; do [ "$previous" = --work-path ] && work=$a; previous=$a; done
            case " $* " in
                *" restore "*" --image-path "*)
                    # Like a CRIU that crashed mid-restore: a cgroup yard left mounted in the work dir.
                    mkdir -p "$work/.criu.cgyard.test" && mount -t tmpfs none "$work/.criu.cgyard.test"
                    sleep 1000 & echo $! > \(marker); wait; exit 0 ;;
            esac
            exec \(runc) "$@"
            """
        try Files.writeAtomically(wrapper, Array(script.utf8), mode: 0o755)
        try appendConfig("runtime = \"\(wrapper)\"\nruntime_timeout = \(timeoutSeconds)\n")
    }

    func useRealRuntime() throws {
        let text = try Files.readText(base + "/crpod.conf")
        let kept = text.split(separator: "\n").filter { !$0.hasPrefix("runtime") }.joined(separator: "\n") + "\n"
        try Files.writeAtomically(base + "/crpod.conf", Array(kept.utf8))
    }

    func appendConfig(_ lines: String) throws {
        let text = try Files.readText(base + "/crpod.conf")
        try Files.writeAtomically(base + "/crpod.conf", Array((text + lines).utf8))
    }
}
