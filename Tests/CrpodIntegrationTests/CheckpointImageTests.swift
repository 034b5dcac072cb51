import Foundation
import CrpodLinux
import Testing

struct CheckpointImageJSON: Decodable {
    var image: Record
    struct Record: Decodable {
        var id: String
        var layers: [String]
        var annotations: [String: String]?
    }
}

@Suite("checkpoint images through a local registry", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct CheckpointImageTests {
    @Test("instance A checkpoints a counter into a checkpoint image and pushes it; instance B (another root) pulls it with restore --image into a pod and the counter continues; a normal image is refused")
    func checkpointImageAcrossInstances() async throws {
        try await withCrpod { source in
            let registry = try RegistryProcess(source)
            defer { registry.stop() }
            #expect(try await registry.waitListening())
            let base = try await source.importBusybox(as: "localhost/busybox:it").id
            try await source.ok(["pod", "create", "pa"])
            try await source.ok(["run", "--name", "counter", "--pod", "pa", "--image", "localhost/busybox:it", "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await source.ok(["logs", "counter"])) ?? 0 >= 3 })
            let remote = "\(registry.host)/ckpt/counter:1"
            let badReference = try await source.run(["checkpoint", "--create-image", "Bad:Ref", "counter"])
            #expect(!badReference.ok && badReference.stderr.contains("lower-case"), "refused before the checkpoint: \(badReference.stderr)")
            let running = lastCount(try await source.ok(["logs", "counter"])) ?? 0
            #expect(try await eventually { lastCount(try await source.ok(["logs", "counter"])) ?? 0 > running }, "the counter still runs")
            let created = try await source.ok(["checkpoint", "--create-image", remote, "counter"]).split(separator: "\n")
            try #require(created.count == 2, "container id, then image id")
            let checkpointed = try #require(lastCount(try await source.ok(["logs", "counter"])))
            let shown = try JSONDecoder().decode(CheckpointImageJSON.self, from: Data(try await source.ok(["image", "inspect", remote]).utf8))
            #expect(shown.image.layers.count == 1)
            let annotations = shown.image.annotations ?? [:]
            #expect(annotations["io.podman.annotations.checkpoint.name"] == "counter")
            #expect(annotations["io.kubernetes.cri-o.annotations.checkpoint.name"] == "counter")
            #expect(annotations["io.podman.annotations.checkpoint.rootfsImageName"] == "localhost/busybox:it")
            #expect(annotations["io.podman.annotations.checkpoint.rootfsImageID"] == base)
            #expect(annotations["io.podman.annotations.checkpoint.criu.version"] != nil)
            #expect(try await source.ok(["image", "ls"]).contains("counter"), "ls marks the checkpoint image")
            let refusedRun = try await source.run(["run", "--name", "x", "--image", remote, "--", "true"])
            #expect(!refusedRun.ok && refusedRun.stderr.contains("checkpoint image"), "\(refusedRun.stderr)")
            try await source.ok(["image", "push", remote])  // a loopback registry: plain HTTP without --tls-verify
            try await source.ok(["image", "push", "--tls-verify=false", "localhost/busybox:it", "\(registry.host)/base/busybox:it"])

            try await withCrpod { target in
                try await target.ok(["image", "pull", "--tls-verify=false", "\(registry.host)/base/busybox:it"])
                try await target.ok(["pod", "create", "pb"])
                let normal = try await target.run(["restore", "--image", "\(registry.host)/base/busybox:it", "--pod", "pb"])
                #expect(!normal.ok && normal.stderr.contains("is not a checkpoint image"), "\(normal.stderr)")
                let missing = try await target.run(["restore", "--image", "\(registry.host)/ckpt/none:1", "--tls-verify=false", "--pod", "pb"])
                #expect(!missing.ok && missing.stderr.contains("HTTP 404"), "\(missing.stderr)")
                let forcedTLS = try await target.run(["restore", "--image", remote, "--tls-verify=true", "--pod", "pb"])
                #expect(!forcedTLS.ok && forcedTLS.stderr.contains("https://"), "--tls-verify=true forces HTTPS, which this registry does not speak: \(forcedTLS.stderr)")
                try await target.ok(["restore", "--image", remote, "--pod", "pb", "--name", "moved"])  // no flags beyond these
                #expect(try await eventually { lastCount(try await target.ok(["logs", "moved"])) != nil })
                let first = try await target.ok(["logs", "moved"]).split(separator: "\n").first { $0.hasPrefix("count ") }.flatMap { Int($0.dropFirst(6)) }
                #expect((first ?? 0) >= checkpointed, "the counter goes on from \(checkpointed), it did not start again: first count \(String(describing: first))")
                let before = lastCount(try await target.ok(["logs", "moved"])) ?? 0
                #expect(try await eventually { lastCount(try await target.ok(["logs", "moved"])) ?? 0 > before })
                try await target.ok(["pod", "rm", "-f", "pb"])
                #expect(try await target.leftovers() == [])
                #expect(try Files.listDirectory(target.imageStore + "/pulls") == [], "the pull's layout is removed")
            }
            try await source.ok(["pod", "rm", "-f", "pa"])
            #expect(try await source.leftovers() == [])
            #expect(try Files.listDirectory(source.imageStore + "/builds") == [], "the build directory is removed")
        }
    }

    @Test("an image marked as a checkpoint only by CRI-O's annotation is recognised; when its layer is not a checkpoint archive (a rootfs), restore --image refuses it and leaves nothing")
    func markedImageWithoutCheckpoint() async throws {
        try await withCrpod { crpod in
            let fixtures = ImageFixtures(directory: crpod.base)
            let layer = try await fixtures.layer(of: PrivilegedHost.rootfs, named: "busybox", gzip: true)
            try fixtures.ociLayout(crpod.base + "/oci", layers: [layer], reference: "localhost/fake:1",
                                   annotations: ["io.kubernetes.cri-o.annotations.checkpoint.name": "fake"])
            try await crpod.ok(["image", "import", crpod.base + "/oci"])
            #expect(try await crpod.ok(["image", "ls"]).contains("fake"))
            let unpacked = Files.isDirectory(crpod.imageStore + "/rootfs") ? try Files.listDirectory(crpod.imageStore + "/rootfs") : []
            #expect(unpacked.isEmpty, "a checkpoint layer is never unpacked")
            try await crpod.ok(["pod", "create", "p"])
            let refused = try await crpod.run(["restore", "--image", "localhost/fake:1", "--pod", "p"])
            #expect(!refused.ok && refused.stderr.contains("which is not extracted"), "the archive checks refuse the layer's symlinks: \(refused.stderr)")
            #expect(try await crpod.ok(["ps", "-a", "-q"]).isEmpty)
            try await crpod.ok(["pod", "rm", "-f", "p"])
            #expect(try await crpod.leftovers() == [])
        }
    }
}
