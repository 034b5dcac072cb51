#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodDrivers
import CrpodLinux
import Testing

/// The peer reads crpod's archives: podman 4.3.1 (contrib/provision.sh sets it up with
/// contrib/podman/setup-podman.sh) restores what `crpod checkpoint --export` wrote from a
/// container of an image. Podman finds the image by config.dump's rootfsImageName (it pulls
/// only when missing) and creates the container's storage from rootfsImageID, so the image is
/// loaded into podman's storage from the same docker-save tar crpod imported: same config,
/// same ID.
@Suite("podman restores crpod archives", .serialized,
       .enabled(if: PrivilegedHost.enabled && (PrivilegedHost.isCI || Podman.path != nil), "needs root, runc, criu, the test rootfs and podman"))
struct PodmanInteropTests {
    @Test("a counter of an image checkpointed by crpod is restored by podman container restore --import into a podman pod and counts on with its rootfs changes; nothing is left")
    func podmanRestoresImageContainer() async throws {
        let podman = try #require(Podman.path, "podman not on PATH (run contrib/provision.sh)")
        try await withCrpod { crpod in
            let peer = Podman(path: podman, runner: crpod.runner, tag: String(ObjectIDs.random().prefix(12)))
            do {
                try await restoreUnderPodman(crpod, peer)
            } catch {
                await peer.cleanUp()
                throw error
            }
            await peer.cleanUp()
            #expect(try await peer.leftovers() == [], "podman's pod, container and image are removed")
            #expect(try await crpod.leftovers() == [])
        }
    }

    private func restoreUnderPodman(_ crpod: CrpodInstance, _ peer: Podman) async throws {
        let image = "localhost/\(peer.name):1"
        let tar = try await peer.imageTar(in: crpod.base, reference: image)
        let imageID = try await crpod.ok(["image", "import", tar.path])
        #expect(imageID == tar.id, "crpod's image ID is the config digest")
        try await peer.ok(["load", "-q", "-i", tar.path])
        #expect(try await peer.ok(["image", "inspect", "--format", "{{.Id}}", image]) == tar.id, "podman's image ID is the same")

        try await crpod.ok(["pod", "create", "pa"])
        try await crpod.ok(["run", "--name", "counter", "--pod", "pa", "--image", image, "--"] + busyCounter)
        #expect(try await eventually { lastCount(try await crpod.ok(["logs", "counter"])) ?? 0 >= 3 })
        let archive = crpod.base + "/counter.tar.zst"
        try await crpod.ok(["checkpoint", "--export", archive, "counter"])
        let checkpointed = try #require(lastCount(try await crpod.ok(["logs", "counter"])))

        // podman's pod shares ipc, net and uts like crpod's; --network none keeps netavark out.
        let podID = try await peer.ok(["pod", "create", "--network", "none", "--name", peer.name])
        try await peer.ok(["container", "restore", "--import", archive, "--pod", podID, "--name", peer.name + "-counter"])
        let restored = peer.name + "-counter"
        #expect(try await eventually { lastCount(try await peer.ok(["logs", restored])) ?? 0 > checkpointed + 3 })
        let log = try await peer.ok(["logs", restored])
        let first = log.split(separator: "\n").first { $0.hasPrefix("count ") }.flatMap { Int($0.dropFirst(6)) }
        #expect((first ?? -1) >= checkpointed, "podman's log goes on from \(checkpointed) (the same process): first \(String(describing: first))")
        #expect(try await peer.ok(["exec", restored, "cat", "/tmp/new-file"]) == "changed", "rootfs-diff.tar applied")
        let vi = try await peer.run(["exec", restored, "test", "-e", "/bin/vi"])
        #expect(vi.status == .exited(1), "deleted.files applied: \(vi.stderr)")
        #expect(try await peer.ok(["inspect", "--format", "{{.State.Status}}", restored]) == "running")
        try await crpod.ok(["pod", "rm", "-f", "pa"])
    }
}

/// Rootful podman driven by the tests: everything it makes is named `crpod-interop-<tag>`.
struct Podman {
    static var path: String? { ToolRunner.which("podman", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "") }
    /// podman and the runc it starts run `criu` from PATH: the working CRIU's wrapper first.
    static let environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"]

    let path: String
    let runner: ToolRunner
    let tag: String
    var name: String { "crpod-interop-" + tag }

    func run(_ arguments: [String]) async throws -> CrpodInstance.Outcome {
        let result = try await runner.run(path, arguments, environment: Self.environment, timeLimit: .seconds(120))
        return CrpodInstance.Outcome(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    @discardableResult
    func ok(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let outcome = try await run(arguments)
        try #require(outcome.ok, "podman \(arguments.joined(separator: " ")): \(outcome.stderr)", sourceLocation: sourceLocation)
        return outcome.trimmed
    }

    /// A docker-save tar of the busybox rootfs plus a layer naming this test, so the image
    /// (and its ID) is this test's own.
    func imageTar(in directory: String, reference: String) async throws -> (path: String, id: String) {
        let fixtures = ImageFixtures(directory: directory)
        let marker = directory + "/marker"
        try Files.makeDirectories(marker + "/etc", mode: 0o755)
        try Files.writeAtomically(marker + "/etc/crpod-interop", Array(name.utf8), mode: 0o644)
        let base = try await fixtures.layer(of: PrivilegedHost.rootfs, named: "busybox", gzip: true)
        let own = try await fixtures.layer(of: marker, named: "marker", gzip: false)
        let path = directory + "/image.tar"
        return (path, try await fixtures.dockerSave(path, layers: [base, own], tag: reference))
    }

    /// Whatever of this test's is still in podman: pods, containers, images.
    func leftovers() async throws -> [String] {
        let pods = try await ok(["pod", "ps", "-q", "--filter", "name=" + name])
        let containers = try await ok(["ps", "-a", "-q", "--filter", "name=" + name])
        let images = try await ok(["images", "-q", "--filter", "reference=localhost/" + name])
        return (pods + "\n" + containers + "\n" + images).split(separator: "\n").map(String.init)
    }

    func cleanUp() async {
        _ = try? await run(["pod", "rm", "-f", "-t", "0", name])
        _ = try? await run(["rm", "-f", "-t", "0", name + "-counter"])
        _ = try? await run(["rmi", "-f", "localhost/\(name):1"])
    }
}
