#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The peer reads crpod's archives: podman 4.3.1 (contrib/provision.sh sets it up with
/// contrib/podman/setup-podman.sh) restores what `crpod checkpoint --export` wrote from a
/// container of an image. Podman finds the image by config.dump's rootfsImageName (it pulls
/// only when missing) and creates the container's storage from rootfsImageID, so the image is
/// loaded into podman's storage from the same docker-save tar crpod imported: same config,
/// same ID.
@Suite("podman restores crpod archives", .serialized,
       .enabled(if: PrivilegedHost.enabled && (PrivilegedHost.isCI || Podman.path != nil), "needs root, runc, criu, the test rootfs and podman"),
       .disabled(if: Podman.inV2OnlyViewOfV1Host, "podman cannot run containers in a cgroup2-only mount over a v1/hybrid host (its controllers stay on v1)"))
struct PodmanInteropTests {
    @Test("a counter of an image checkpointed by crpod is restored by podman container restore --import into a podman pod (crpod's pod removed first) and counts on with its rootfs changes and its /dev/shm file; nothing is left")
    func podmanRestoresImageContainer() async throws {
        try await withPodman { crpod, peer in try await restoreUnderPodman(crpod, peer) }
    }

    @Test("a crpod checkpoint image pushed to a registry is pulled by podman and restored with podman container restore IMAGE into a podman pod; the counter continues and finds its /dev/shm file")
    func podmanRestoresCheckpointImage() async throws {
        try await withPodman { crpod, peer in
            let registry = try RegistryProcess(crpod)
            defer { registry.stop() }
            #expect(try await registry.waitListening())
            try await restoreImageUnderPodman(crpod, peer, registry: registry.host)
        }
    }

    private func restoreUnderPodman(_ crpod: CrpodInstance, _ peer: Podman) async throws {
        try await startCounter(crpod, peer)
        let archive = crpod.base + "/counter.tar.zst"
        try await crpod.ok(["checkpoint", "--export", archive, "counter"])
        let checkpointed = try #require(lastCount(try await crpod.ok(["logs", "counter"])))
        let config = try await Podman.member("config.dump", of: archive, runner: crpod.runner)
        #expect(try CheckpointConfig(data: Data(config.utf8), context: archive).shmSize == 2 << 20, "config.dump's shmSize is pod pa's")
        try await removeSourcePod(crpod)
        let podID = try await peer.createPod()
        try await peer.restore(["--import", archive, "--pod", podID, "--name", peer.restored])
        try await expectCountsOn(peer, from: checkpointed)
    }

    private func restoreImageUnderPodman(_ crpod: CrpodInstance, _ peer: Podman, registry: String) async throws {
        try await startCounter(crpod, peer)
        let remote = "\(registry)/\(peer.name)-checkpoint:1"
        try await crpod.ok(["checkpoint", "--create-image", remote, "counter"])
        let checkpointed = try #require(lastCount(try await crpod.ok(["logs", "counter"])))
        try await crpod.ok(["image", "push", "--tls-verify=false", remote])
        try await peer.ok(["pull", "-q", "--tls-verify=false", remote])
        try await removeSourcePod(crpod)
        let podID = try await peer.createPod()
        try await peer.restore(["--pod", podID, "--name", peer.restored, remote])
        try await expectCountsOn(peer, from: checkpointed)
    }

    /// The test's image in both stores (same ID), and a counter of it in crpod's pod `pa` (a 2 MiB
    /// /dev/shm) that first writes /dev/shm/from-crpod: into the pod's shm, so into the archive's
    /// devshm-checkpoint.tar.
    private func startCounter(_ crpod: CrpodInstance, _ peer: Podman) async throws {
        try await peer.loadImage(into: crpod)
        try await crpod.ok(["pod", "create", "--shm-size", "2m", "pa"])
        try await crpod.ok(["run", "--name", "counter", "--pod", "pa", "--image", peer.image, "--"] + shmCounter("from-crpod"))
        #expect(try await eventually { lastCount(try await crpod.ok(["logs", "counter"])) ?? 0 >= 3 })
        let shm = try #require(try await crpod.json(PodInspectJSON.self, ["pod", "inspect", "pa"]).shmDirectory)
        #expect(try Files.readText(shm + "/from-crpod") == "from-crpod\n", "the member wrote into the pod's /dev/shm")
    }

    /// crpod's pod goes before podman restores, its /dev/shm with it (as on another host): what
    /// podman's container then finds in /dev/shm came from the archive.
    private func removeSourcePod(_ crpod: CrpodInstance) async throws {
        try await crpod.ok(["pod", "rm", "-f", "pa"])
        #expect(try await crpod.leftovers() == [], "nothing of pod pa is left")
    }

    /// The restored counter runs under podman: its log goes on from the checkpoint (the same
    /// process, not a new start) and its rootfs changes came along.
    private func expectCountsOn(_ peer: Podman, from checkpointed: Int) async throws {
        let restored = peer.restored
        #expect(try await eventually { lastCount(try await peer.ok(["logs", restored])) ?? 0 > checkpointed + 3 })
        let log = try await peer.ok(["logs", restored])
        let first = log.split(separator: "\n").first { $0.hasPrefix("count ") }.flatMap { Int($0.dropFirst(6)) }
        #expect((first ?? -1) >= checkpointed, "podman's log goes on from \(checkpointed): first \(String(describing: first))")
        // Read through podman's mount: `podman exec` would start a process with spec.dump's
        // rlimits (crpod's, at this host's hard limits), above conmon's here (nproc 32768).
        let root = try await peer.ok(["mount", restored])
        #expect(try Files.readText(root + "/tmp/new-file") == "changed\n", "rootfs-diff.tar applied")
        #expect(!Files.exists(root + "/bin/vi"), "deleted.files applied")
        try await peer.ok(["umount", restored])
        #expect(try await peer.ok(["inspect", "--format", "{{.State.Status}}", restored]) == "running")
        // podman mounts a tmpfs of config.dump's shmSize (crpod's pod's) for the restored /dev/shm
        // and unpacks devshm-checkpoint.tar into it; seen through the restored task's own root.
        let pid = try await peer.ok(["inspect", "--format", "{{.State.Pid}}", restored])
        #expect(try Files.readText("/proc/\(pid)/root/dev/shm/from-crpod") == "from-crpod\n", "devshm-checkpoint.tar unpacked into podman's /dev/shm")
        let shm = try MountTable.parse(Files.readText("/proc/\(pid)/mounts")).last { $0.mountPoint == "/dev/shm" }
        #expect(shm?.options.contains("size=2048k") == true, "the pod's 2 MiB, not an unbounded tmpfs: \(String(describing: shm))")
    }
}

/// busyCounter, after writing `/dev/shm/<name>` (content: the name and a newline).
func shmCounter(_ name: String) -> [String] {
    ["sh", "-c", "echo \(name) > /dev/shm/\(name); " + busyCounter[2]]
}

/// A crpod instance and podman; afterwards podman has nothing of the test's and crpod nothing at all.
func withPodman(_ body: (CrpodInstance, Podman) async throws -> Void) async throws {
    let podman = try #require(Podman.path, "podman not on PATH (run contrib/provision.sh)")
    try await withCrpod { crpod in
        let peer = Podman(path: podman, runner: crpod.runner, tag: String(ObjectIDs.random().prefix(12)))
        do {
            try await body(crpod, peer)
        } catch {
            await peer.cleanUp()
            throw error
        }
        let podCgroup = await peer.cleanUp()
        #expect(podCgroup.hasPrefix("/libpod_parent/"), "the pod had a cgroup: \(podCgroup)")
        #expect(Podman.cgroupDirectories(podCgroup) == [], "the pod's cgroups are removed")
        #expect(try await peer.leftovers() == [], "podman's pod, container and images are removed")
        #expect(try await crpod.leftovers() == [])
    }
}

/// Rootful podman driven by the tests: everything it makes is named `crpod-interop-<tag>`.
struct Podman {
    static var path: String? { ToolRunner.which("podman", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "") }
    /// podman and the runc it starts run `criu` from PATH: the working CRIU's wrapper first.
    static let environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"]

    /// `/sys/fs/cgroup` is cgroup2 alone while this process is still in v1 hierarchies: the
    /// test view of a hybrid host (a private mount of cgroup2 over it). There podman's own
    /// `podman run` fails ("openat2 …/libpod-<id>/pids.max: no such file or directory": the
    /// pids controller is bound to v1), so nothing of crpod's can be checked with it.
    static var inV2OnlyViewOfV1Host: Bool {
        guard let layout = try? CgroupLayout.current(), layout.mode == .unified,
              let membership = try? Files.readText("/proc/self/cgroup") else { return false }
        return membership.split(separator: "\n").contains { !$0.hasPrefix("0::") }
    }

    let path: String
    let runner: ToolRunner
    let tag: String
    var name: String { "crpod-interop-" + tag }
    var image: String { "localhost/\(name):1" }
    var restored: String { name + "-counter" }

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

    /// A docker-save tar of a copy of the busybox rootfs with a file naming this test, so the
    /// image (and its ID) is this test's own. Its root directory is 0555: podman 4.3.1's storage
    /// gives every container's root mode 0555 whatever the image says, and CRIU refuses to
    /// restore tasks whose root has another mode than at the dump ("File . has bad mode 040555
    /// (expect 040755)"); crpod gives the root the image's own mode.
    func imageTar(in directory: String) async throws -> (path: String, id: String) {
        let tree = directory + "/image-tree"
        let copied = try await runner.run("/bin/cp", ["-a", PrivilegedHost.rootfs, tree])
        try #require(copied.status == .exited(0), "cp: \(copied.stderr)")
        try Files.writeAtomically(tree + "/etc/crpod-interop", Array(name.utf8), mode: 0o644)
        try #require(chmod(tree, 0o555) == 0, "chmod \(tree): errno \(errno)")
        let fixtures = ImageFixtures(directory: directory)
        let layer = try await fixtures.layer(of: tree, named: "layer", gzip: true)
        let path = directory + "/image.tar"
        return (path, try await fixtures.dockerSave(path, layers: [layer], tag: image))
    }

    /// The test's image (`imageTar`) imported into crpod and loaded into podman: the same ID in
    /// both, so either restores the other's checkpoints of it by image.
    func loadImage(into crpod: CrpodInstance) async throws {
        let tar = try await imageTar(in: crpod.base)
        let imageID = try await crpod.ok(["image", "import", tar.path])
        #expect(imageID == tar.id, "crpod's image ID is the config digest")
        try await ok(["load", "-q", "-i", tar.path])
        #expect(try await ok(["image", "inspect", "--format", "{{.Id}}", image]) == tar.id, "podman's image ID is the same")
    }

    /// `podman container restore`; a failure quotes the error lines of the log podman names.
    func restore(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let outcome = try await run(["container", "restore"] + arguments)
        guard !outcome.ok else { return }
        let log = outcome.stderr.split(separator: "\n").first { $0.hasPrefix("log file: ") }.map { String($0.dropFirst(10)) }
        let errors = log.flatMap { try? Files.readText($0) }?.split(separator: "\n").filter { $0.contains("Error") }.joined(separator: "\n")
        Issue.record("podman container restore \(arguments.joined(separator: " ")): \(outcome.stderr)\n\(errors ?? "")", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    /// Member `name` of a zstd checkpoint archive, as text (`| tar -tf -` after it: its listing).
    static func member(_ name: String, of archive: String, then: String = "cat", runner: ToolRunner) async throws -> String {
        let result = try await runner.run("/bin/sh", ["-c", "zstd -dcq \"$1\" | tar -xOf - \"$2\" | \(then)", "sh", archive, name], environment: environment)
        try #require(result.status == .exited(0), "\(name) of \(archive): \(result.stderr)")
        return result.stdout
    }

    /// `path` (a cgroupfs path such as `/libpod_parent/<pod id>`) in every hierarchy mounted
    /// under /sys/fs/cgroup, where it exists.
    static func cgroupDirectories(_ path: String) -> [String] {
        let hierarchies = ["/sys/fs/cgroup"] + ((try? Files.listDirectory("/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/" + $0 }
        return hierarchies.map { $0 + path }.filter(Files.isDirectory)
    }

    /// Whatever of this test's is still in podman: pods, containers, images.
    func leftovers() async throws -> [String] {
        let pods = try await ok(["pod", "ps", "-q", "--filter", "name=" + name])
        let containers = try await ok(["ps", "-a", "-q", "--filter", "name=" + name])
        let images = try await ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]).split(separator: "\n").filter { $0.contains(name) }
        return (pods + "\n" + containers).split(separator: "\n").map(String.init) + images.map(String.init)
    }

    /// Removes this test's pod, container and images (the checkpoint image too), and the pod's
    /// cgroup directories: podman 4.3.1's `pod rm` leaves them in the unified and the named
    /// `systemd` hierarchies of a hybrid host.
    /// Returns the pod's cgroup path ("" when there was no pod).
    @discardableResult
    func cleanUp() async -> String {
        let podCgroup = (try? await run(["pod", "inspect", "--format", "{{.CgroupPath}}", name]))?.trimmed ?? ""
        _ = try? await run(["pod", "rm", "-f", "-t", "0", name])
        if podCgroup.hasPrefix("/"), podCgroup.count > 1 {
            for directory in Self.cgroupDirectories(podCgroup) { rmdir(directory) }
        }
        _ = try? await run(["rm", "-f", "-t", "0", restored])
        let images = (try? await run(["images", "--format", "{{.Repository}}:{{.Tag}}"]))?.stdout ?? ""
        for reference in images.split(separator: "\n") where reference.contains(name) { _ = try? await run(["rmi", "-f", String(reference)]) }
        return podCgroup
    }

    /// A pod sharing ipc, net and uts (podman's default, like crpod's); `--network none`
    /// keeps netavark and its firewall rules out of it.
    func createPod() async throws -> String {
        try await ok(["pod", "create", "--network", "none", "--name", name])
    }
}
