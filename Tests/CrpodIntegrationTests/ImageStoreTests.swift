#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodLinux
import Testing

struct ImageJSON: Decodable {
    var id: String
    var names: [String]
    var layers: [String]
}

@Suite("image store with real runc and CRIU", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct ImageStoreTests {
    @Test("an OCI layout of the busybox rootfs: import, run --image a counter in a pod, checkpoint --export, restore --import elsewhere without --rootfs; rm refused while used")
    func ociImageRunCheckpointRestore() async throws {
        try await withCrpod { crpod in
            let fixtures = ImageFixtures(directory: crpod.base)
            let layer = try await fixtures.layer(of: PrivilegedHost.rootfs, named: "busybox", gzip: true)
            let configDigest = try fixtures.ociLayout(crpod.base + "/oci", layers: [layer], reference: "localhost/busybox:it")
            let id = try await crpod.ok(["image", "import", crpod.base + "/oci"])
            #expect(id == configDigest)
            let listed = try await crpod.json([ImageJSON].self, ["image", "ls"])
            #expect(listed.map(\.names) == [["localhost/busybox:it"]])

            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--image", "localhost/busybox:it", "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            let refused = try await crpod.run(["image", "rm", "localhost/busybox:it"])
            #expect(!refused.ok && refused.stderr.contains("is used by containers c"), "\(refused.stderr)")

            let archive = crpod.base + "/c.tar.zst"
            try await crpod.ok(["checkpoint", "--export", archive, "c"])
            let config = try await crpod.ok(["archive", "inspect", archive])
            #expect(config.contains("Rootfs:       localhost/busybox:it"))
            try await crpod.ok(["rm", "c"])
            try await crpod.ok(["pod", "create", "pb"])
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "moved"])
            let before = lastCount(try await crpod.ok(["logs", "moved"])) ?? 0
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "moved"])) ?? 0 > before })
            let restored = try await crpod.json(ContainerJSON.self, ["inspect", "moved"])
            #expect(restored.state == "running")

            try await crpod.ok(["rm", "-f", "moved"])
            try await crpod.ok(["image", "rm", id])
            #expect(try crpod.imageStoreContents() == [], "rm leaves no blob or tree")
            try await crpod.ok(["pod", "rm", "pa", "pb"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("a docker-save archive imports by its RepoTags; an archive naming an image not in the store is refused naming it")
    func dockerSaveAndMissingImage() async throws {
        try await withCrpod { crpod in
            let fixtures = ImageFixtures(directory: crpod.base)
            let layer = try await fixtures.layer(of: PrivilegedHost.rootfs, named: "busybox", gzip: false)
            let configDigest = try await fixtures.dockerSave(crpod.base + "/saved.tar", layers: [layer], tag: "localhost/saved:1")
            #expect(try await crpod.ok(["image", "import", crpod.base + "/saved.tar"]) == configDigest)
            let tree = try await crpod.ok(["image", "inspect", "localhost/saved:1"])
            #expect(tree.contains("\"rootfs\""))
            let contents = try crpod.imageStoreContents()
            #expect(contents.filter { $0.hasPrefix("rootfs/") }.count == 1 && contents.filter { $0.hasPrefix("tmp/") }.isEmpty)

            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--image", String(configDigest.prefix(12)), "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            let archive = crpod.base + "/c.tar.zst"
            try await crpod.ok(["checkpoint", "--export", archive, "c"])
            try await crpod.ok(["rm", "c"])
            try await crpod.ok(["image", "rm", "localhost/saved:1"])
            let missing = try await crpod.run(["restore", "--import", archive, "--pod", "pa", "--name", "back"])
            #expect(!missing.ok)
            #expect(missing.stderr.contains("image localhost/saved:1") && missing.stderr.contains("is not in the image store"), "\(missing.stderr)")
            try await crpod.ok(["pod", "rm", "pa"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("hostile images are refused with a clear message and leave nothing in the store: a tampered layer blob, a layer writing through a lower layer's symlink")
    func hostileImagesLeaveNothing() async throws {
        try await withCrpod { crpod in
            let fixtures = ImageFixtures(directory: crpod.base)
            let layer = try await fixtures.layer(of: PrivilegedHost.rootfs, named: "busybox", gzip: true)
            try fixtures.ociLayout(crpod.base + "/tampered", layers: [layer], reference: "localhost/tampered:1")
            let blob = "\(crpod.base)/tampered/blobs/sha256/\(layer.digest)"
            var bytes = try Files.read(blob, limit: 64 << 20)
            bytes[bytes.count / 2] ^= 0xff
            try Files.writeAtomically(blob, bytes, mode: 0o644)
            let tampered = try await crpod.run(["image", "import", crpod.base + "/tampered"])
            #expect(!tampered.ok && tampered.stderr.contains("does not match its descriptor: expected sha256:\(layer.digest)"), "\(tampered.stderr)")
            #expect(try crpod.imageStoreContents().isEmpty)

            // A file through a lower layer's symlink (no directory entry of its own) is refused.
            let outside = crpod.base + "/outside"
            try Files.makeDirectories(outside + "/lower", mode: 0o755)
            try Files.makeDirectories(outside + "/upper/evil", mode: 0o755)
            try Files.makeDirectories(outside + "/target", mode: 0o755)
            #expect(symlink(outside + "/target", outside + "/lower/evil") == 0)
            try Files.writeAtomically(outside + "/upper/evil/pwned", Array("x".utf8), mode: 0o644)
            let lower = try await fixtures.layer(of: outside + "/lower", named: "lower", gzip: false)
            let through = try await fixtures.layer(of: outside + "/upper", named: "through", gzip: false, members: ["--no-recursion", "./evil/pwned"])
            try fixtures.ociLayout(crpod.base + "/trick", layers: [lower, through], reference: "localhost/trick:1")
            let trick = try await crpod.run(["image", "import", crpod.base + "/trick"])
            #expect(!trick.ok && trick.stderr.contains("evil/pwned"), "\(trick.stderr)")
            #expect(try Files.listDirectory(outside + "/target") == [], "nothing written through the symlink")
            #expect(try crpod.imageStoreContents() == [], "no blob, tree or staging left")

            // A directory entry replaces the symlink with a real directory: accepted, and still nothing reaches the target.
            let replacing = try await fixtures.layer(of: outside + "/upper", named: "replacing", gzip: false)
            try fixtures.ociLayout(crpod.base + "/replace", layers: [lower, replacing], reference: "localhost/replace:1")
            let id = try await crpod.ok(["image", "import", crpod.base + "/replace"])
            #expect(try Files.listDirectory(outside + "/target") == [])
            let tree = try #require(try crpod.imageStoreContents().first { $0.hasPrefix("rootfs/") })
            #expect(Files.isDirectory("\(crpod.imageStore)/\(tree)/evil") && Files.readLink("\(crpod.imageStore)/\(tree)/evil") == nil)
            #expect(Files.exists("\(crpod.imageStore)/\(tree)/evil/pwned"))
            try await crpod.ok(["image", "rm", id])
            #expect(try await crpod.json([ImageJSON].self, ["image", "ls"]).isEmpty)
        }
    }

    @Test("a docker-save tar whose member is a symbolic link out of it (a layer to ../../../etc/passwd, the config to /etc/shadow, manifest.json to itself) is refused naming the member and the link; nothing is left in the store")
    func dockerSaveLinksOutRefused() async throws {
        try await withCrpod { crpod in
            let fixtures = ImageFixtures(directory: crpod.base)
            let layer = try await fixtures.layer(of: PrivilegedHost.rootfs, named: "busybox", gzip: false)
            let cases: [(member: String?, target: String, message: String)] = [
                ("l0/layer.tar", "../../../etc/passwd", "which leads out of the image source"),
                (nil, "/etc/shadow", "an absolute path"),  // the config, <digest>.json
                ("manifest.json", "manifest.json", "more than 8 links deep"),
            ]
            for (index, hostile) in cases.enumerated() {
                let archive = "\(crpod.base)/hostile-\(index).tar"
                let configDigest = try await fixtures.dockerSave(archive, layers: [layer], tag: "localhost/hostile:1")
                let member = hostile.member ?? configDigest + ".json"
                #expect(unlink("\(archive).d/\(member)") == 0 && symlink(hostile.target, "\(archive).d/\(member)") == 0)
                try await fixtures.tar(archive + ".d", into: archive)
                let refused = try await crpod.run(["image", "import", archive])
                #expect(!refused.ok && refused.stderr.contains("member \"\(member)\"") && refused.stderr.contains("\"\(hostile.target)\"")
                        && refused.stderr.contains(hostile.message), "\(refused.stderr)")
                #expect(try crpod.imageStoreContents() == [], "no blob, tree or staging left")
            }
            #expect(try await crpod.json([ImageJSON].self, ["image", "ls"]).isEmpty)
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("a podman archive finds its base image (rootfsImageName) in the store: restore --import without --rootfs continues its counter")
    func podmanArchiveRestoresFromTheStore() async throws {
        try await withCrpod { crpod in
            let archive = PodmanImportTests.fixtures + "/pod-member.tar.zst"
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts", "target"])
            let restore = ["restore", "--import", archive, "--pod", "target", "--name", "imported"]
            let missing = try await crpod.run(restore)
            #expect(!missing.ok && missing.stderr.contains("image localhost/busybox:crpod, ID d8fa8340fba0 is not in the image store"), "\(missing.stderr)")

            try await crpod.importBusybox(as: "localhost/busybox:crpod")
            if try await PodmanImportTests.refusedUnderCgroupV2(crpod, restore, archive: archive) { return }
            try await crpod.ok(restore)
            let lastNumber = { (log: String) in log.split(separator: "\n").last.flatMap { Int($0) } ?? -1 }
            #expect(try await eventually { lastNumber(try await crpod.ok(["logs", "imported"])) >= 4 })
            let refused = try await crpod.run(["image", "rm", "localhost/busybox:crpod"])
            #expect(!refused.ok && refused.stderr.contains("is used by containers imported"), "\(refused.stderr)")
            try await crpod.ok(["rm", "-f", "imported"])
            try await crpod.ok(["pod", "rm", "target"])
            #expect(try await crpod.leftovers() == [])
        }
    }
}
