import CrpodLinux
import Testing

/// crpod imports what the real podman 4.3.1 (contrib/podman/setup-podman.sh) saves. Only
/// `podman import` and `podman save` run: no podman container, so any cgroup view will do.
@Suite("podman save archives import into crpod", .serialized,
       .enabled(if: PrivilegedHost.enabled && (PrivilegedHost.isCI || Podman.path != nil), "needs root, runc, the test rootfs and podman"))
struct PodmanSaveImportTests {
    @Test("podman save (docker-archive, whose <id>/layer.tar is a symbolic link) and podman save --format oci-archive import with podman's image ID; a container runs from it; nothing is left in crpod or podman")
    func podmanSaveImports() async throws {
        let podman = try #require(Podman.path, "podman not on PATH (run contrib/provision.sh)")
        try await withCrpod { crpod in
            let peer = Podman(path: podman, runner: crpod.runner, tag: String(ObjectIDs.random().prefix(12)))
            do {
                try await importAndRun(crpod, peer)
            } catch {
                await peer.cleanUp()
                throw error
            }
            await peer.cleanUp()
            #expect(try await peer.leftovers() == [], "podman's image is removed")
            #expect(try await crpod.leftovers() == [])
        }
    }

    private func importAndRun(_ crpod: CrpodInstance, _ peer: Podman) async throws {
        let rootfs = try await ImageFixtures(directory: crpod.base).layer(of: PrivilegedHost.rootfs, named: "rootfs", gzip: false)
        let podmanID = String(try await peer.ok(["import", "-q", rootfs.file, peer.image]).trimmingPrefix("sha256:"))
        let dockerArchive = crpod.base + "/podman-docker-archive.tar"
        try await peer.ok(["save", "-q", "-o", dockerArchive, peer.image])
        let listing = try await crpod.runner.run("/bin/tar", ["-tvf", dockerArchive])
        #expect(listing.stdout.contains("/layer.tar -> ../"), "podman links the layer (else this test proves nothing): \(listing.stdout)")
        #expect(try await crpod.ok(["image", "import", dockerArchive]) == podmanID)
        let ociArchive = crpod.base + "/podman-oci-archive.tar"
        try await peer.ok(["save", "-q", "--format", "oci-archive", "-o", ociArchive, peer.image])
        #expect(try await crpod.ok(["image", "import", "--name", "localhost/from-oci:1", ociArchive]) == podmanID)
        let listed = try await crpod.json([ImageJSON].self, ["image", "ls"])
        #expect(listed.map(\.names) == [[peer.image, "localhost/from-oci:1"]])

        try await crpod.ok(["pod", "create", "pa"])
        try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--image", peer.image, "--"] + busyCounter)
        #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
        try await crpod.ok(["rm", "-f", "c"])
        try await crpod.ok(["pod", "rm", "pa"])
        try await crpod.ok(["image", "rm", podmanID])
        #expect(try crpod.imageStoreContents() == [], "rm leaves no blob or tree")
    }
}
