import Foundation
import CrpodLinux
import Testing

/// `Seccomp:` and `Seccomp_filters:` of a process (mode 2 is "filter").
func seccompStatus(pid: Int32) throws -> (mode: String, filters: String) {
    let lines = try Files.readText("/proc/\(pid)/status").split(separator: "\n")
    func field(_ name: String) -> String {
        lines.first { $0.hasPrefix(name + ":") }.map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) } ?? "?"
    }
    return (field("Seccomp"), field("Seccomp_filters"))
}

/// Tries mkdir inside the container and reports the outcome in its log, then sleeps.
let mkdirProbe = ["sh", "-c", "if mkdir /tmp/made; then echo mkdir-ok; else echo mkdir-failed; fi; touch /tmp/t && echo touch-ok; sleep 1000"]

@Suite("seccomp filters on crpod's containers", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct SeccompTests {
    @Test("the default profile is applied, survives checkpoint and restore into another pod, and the counter continues")
    func defaultProfileRoundTrip() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            let source = try seccompStatus(pid: try await crpod.pid(ofContainer: "c"))
            #expect(source.mode == "2" && source.filters == "1", "runc installed one filter: \(source)")
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            let archive = crpod.base + "/c.tar.zst"
            try await crpod.ok(["checkpoint", "--export", archive, "c"])
            let last = try #require(lastCount(try await crpod.ok(["logs", "c"])))

            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "moved"])
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "moved"])) != nil }, "the restored counter writes")
            let log = try await crpod.ok(["logs", "moved"])
            let first = try #require(log.split(separator: "\n").first.flatMap { Int($0.dropFirst(6)) }, "restored log: \(log)")
            #expect(first == last + 1, "the counter continued: \(last) then \(first)")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "moved"])) ?? 0) > first + 3 })
            let restored = try seccompStatus(pid: try await crpod.pid(ofContainer: "moved"))
            #expect(restored.mode == "2" && restored.filters == "1", "CRIU restored the filter: \(restored)")
        }
    }

    @Test("seccomp=unconfined runs (and restores) without a filter; a profile FILE denying mkdir makes mkdir fail inside")
    func securityOptions() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            try await crpod.ok(["run", "--name", "free", "--pod", "pa", "--security-opt", "seccomp=unconfined", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            #expect(try seccompStatus(pid: try await crpod.pid(ofContainer: "free")).mode == "0")
            try await crpod.ok(["checkpoint", "--export", crpod.base + "/free.tar.zst", "free"])
            try await crpod.ok(["restore", "--import", crpod.base + "/free.tar.zst", "--pod", "pb", "--name", "free-moved"])
            #expect(try seccompStatus(pid: try await crpod.pid(ofContainer: "free-moved")).mode == "0", "restored without a filter too")

            let profile = crpod.base + "/no-mkdir.json"
            try Files.writeAtomically(profile, Array(#"""
                {"defaultAction": "SCMP_ACT_ALLOW",
                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
                """#.utf8))
            try await crpod.ok(["run", "--name", "denied", "--security-opt", "seccomp=\(profile)", "--rootfs", PrivilegedHost.rootfs, "--"] + mkdirProbe)
            try await crpod.ok(["run", "--name", "control", "--rootfs", PrivilegedHost.rootfs, "--"] + mkdirProbe)
            #expect(try await eventually { try await crpod.ok(["logs", "denied"]).contains("touch-ok") })
            #expect(try await eventually { try await crpod.ok(["logs", "control"]).contains("touch-ok") })
            let denied = try await crpod.ok(["logs", "denied"]), control = try await crpod.ok(["logs", "control"])
            #expect(denied.contains("mkdir-failed") && denied.contains("Operation not permitted"), "\(denied)")
            #expect(control.contains("mkdir-ok"), "the default profile allows mkdir: \(control)")
            #expect(try seccompStatus(pid: try await crpod.pid(ofContainer: "denied")).mode == "2")
        }
    }

    @Test("a bad profile is refused naming the file and the fault; nothing is created")
    func badProfiles() async throws {
        try await withCrpod { crpod in
            let profile = crpod.base + "/bad.json"
            try Files.writeAtomically(profile, Array(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "DENY"}]}"#.utf8))
            let run = ["run", "--name", "x", "--rootfs", PrivilegedHost.rootfs, "--security-opt"]
            try await crpod.expectRefusal(run + ["seccomp=\(profile)", "--", "true"],
                                          "invalid seccomp profile \(profile): syscalls[0].action: unknown action \"DENY\"", archive: nil)
            try Files.writeAtomically(profile, Array("{not json".utf8))
            try await crpod.expectRefusal(run + ["seccomp=\(profile)", "--", "true"], "invalid seccomp profile \(profile): invalid JSON in \(profile)", archive: nil)
            try await crpod.expectRefusal(run + ["seccomp=\(crpod.base)/missing.json", "--", "true"], "invalid seccomp profile \(crpod.base)/missing.json", archive: nil)
            try await crpod.expectRefusal(run + ["apparmor=unconfined", "--", "true"], "unsupported --security-opt apparmor=unconfined", archive: nil)
        }
    }
}
