import CrpodLinux
import Testing

@Suite("bad input leaves nothing behind", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct BadInputTests {
    @Test("a runc failure during run shows its error and leaves no state, cgroup, mount or directory")
    func failedRunLeavesNothing() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pb"])
            let before = try await crpod.leftovers()
            #expect(before.count > 0, "the pod's own cgroup directories exist")
            let outcome = try await crpod.run(["run", "--name", "broken", "--pod", "pb", "--rootfs", PrivilegedHost.rootfs, "--", "/no/such/binary"])
            #expect(!outcome.ok)
            #expect(outcome.stderr.contains("runtime create broken"), "stderr: \(outcome.stderr)")
            #expect(outcome.stderr.contains("/no/such/binary"), "the runtime's reason is shown: \(outcome.stderr)")
            #expect(try await crpod.ok(["ps", "-a", "-q"]).isEmpty)
            let after = try await crpod.leftovers()
            #expect(after == before)
            // The name is free again.
            try await crpod.ok(["run", "--name", "broken", "--pod", "pb", "--rootfs", PrivilegedHost.rootfs, "--", "true"])
        }
    }

    @Test("refusals name what is wrong", arguments: [
        (["run", "--name", "x", "--pod", "nosuchpod", "--rootfs", "ROOTFS", "--", "true"], "pod \"nosuchpod\" cannot be retrieved"),
        (["run", "--name", "x", "--rootfs", "/no/such/rootfs", "--", "true"], "rootfs /no/such/rootfs does not exist"),
        (["run", "--name", "bad name", "--rootfs", "ROOTFS", "--", "true"], "container name"),
        (["run", "--name", "x", "--rootfs", "ROOTFS", "-e", "NOEQUALS", "--", "true"], "NOEQUALS"),
        (["pod", "create", "--share", "ipc,bogus", "p"], "bogus"),
        (["pod", "create", "--cgroup-parent", "../escape", "p"], "cgroup parent"),
        (["inspect", "ghost"], "no container with name or ID \"ghost\" found"),
        (["pod", "rm", "ghost"], "pod \"ghost\" cannot be retrieved"),
    ])
    func refusals(arguments: [String], message: String) async throws {
        try await withCrpod { crpod in
            let outcome = try await crpod.run(arguments.map { $0 == "ROOTFS" ? PrivilegedHost.rootfs : $0 })
            #expect(!outcome.ok)
            #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
            #expect(try await crpod.ok(["ps", "-a", "-q"]).isEmpty)
            #expect(try await crpod.ok(["pod", "ls", "-q"]).isEmpty)
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("names are unique across pods and across containers")
    func duplicateNames() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "dup"])
            let again = try await crpod.run(["pod", "create", "dup"])
            #expect(!again.ok)
            #expect(again.stderr.contains("the pod name \"dup\" is already in use"))
            try await crpod.ok(["run", "--name", "c", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "30"])
            let twice = try await crpod.run(["run", "--name", "c", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "30"])
            #expect(!twice.ok)
            #expect(twice.stderr.contains("the container name \"c\" is already in use"))
            #expect(try await crpod.ok(["pod", "ls", "-q"]).split(separator: "\n").count == 1)
            #expect(try await crpod.ok(["ps", "-q"]).split(separator: "\n").count == 1)
        }
    }
}
