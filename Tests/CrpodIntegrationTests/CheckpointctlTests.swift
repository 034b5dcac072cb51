import Foundation
import CrpodDrivers
import CrpodLinux
import Testing

/// Another tool reads crpod's archives: checkpointctl 1.3.0 (contrib/provision.sh installs
/// Debian's into a private prefix). It knows Podman, CRI-O and containerd archives and picks by
/// spec.dump's io.container.manager; crpod's exports are podman-format (libpod), so it shows
/// the container's name and creation time from config.dump — engine "Podman" names the format.
@Suite("checkpointctl reads crpod archives", .serialized,
       .enabled(if: PrivilegedHost.enabled && (PrivilegedHost.isCI || Checkpointctl.path != nil), "needs root, runc, criu, the test rootfs and checkpointctl"))
struct CheckpointctlTests {
    @Test("checkpointctl show and inspect list a crpod archive with its name, creation and checkpoint time, and process tree")
    func showAndInspect() async throws {
        let checkpointctl = try #require(Checkpointctl.path, "checkpointctl not on PATH (run contrib/provision.sh)")
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "web-1", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "1000"])
            let archive = crpod.base + "/web.tar.zst"
            try await crpod.ok(["checkpoint", "-R", "--export", archive, "web-1"])
            let created = try await crpod.json(ContainerJSON.self, ["inspect", "web-1"]).id

            let show = try await crpod.runner.run(checkpointctl, ["show", archive])
            #expect(show.status == .exited(0), "checkpointctl show: \(show.stderr)")
            let row = show.stdout.split(separator: "\n").first { $0.hasPrefix("web-1 ") }.map(String.init) ?? ""
            #expect(row.contains(String(created.prefix(12))), "the container's name and id in one row:\n\(show.stdout)")
            #expect(row.contains("Podman"), "engine: the podman (libpod) format crpod writes:\n\(show.stdout)")
            #expect(row.range(of: #"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ"#, options: .regularExpression) != nil, "a creation time:\n\(show.stdout)")

            let inspect = try await crpod.runner.run(checkpointctl, ["inspect", "--ps-tree", archive])
            #expect(inspect.status == .exited(0), "checkpointctl inspect: \(inspect.stderr)")
            let lines = inspect.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains("web-1"), "the tree is named after the container:\n\(inspect.stdout)")
            #expect(lines.contains { $0.contains("Created: 20") } && lines.contains { $0.contains("Checkpointed: 20") }, "\(inspect.stdout)")
            #expect(lines.contains { $0.contains("Engine: Podman") } && lines.contains { $0.hasSuffix("sleep") }, "\(inspect.stdout)")

            // The marker changes nothing for crpod: its own archive still restores as crpod's.
            try await crpod.ok(["pod", "create", "pb"])
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "web-2"])
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "web-2"]).state == "running")
        }
    }
}

enum Checkpointctl {
    static var path: String? { ToolRunner.which("checkpointctl", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "") }
}
