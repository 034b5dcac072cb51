#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// `MountPoints` (the native restore's mount points in a container root) against a hostile
/// rootfs: symlinks resolve inside the root, binds and unmounts go through descriptors.
@Suite("mount points inside a hostile container root", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root to mount"))
struct MountPointsTests {
    @Test("a symlink to / in the rootfs leads to the root's own directories, never the host's")
    func symlinksStayInTheRoot() throws {
        let base = NSTemporaryDirectory() + "crpod-mountpoints-" + String(ObjectIDs.random().prefix(12))
        let root = base + "/root", source = base + "/source"
        try Files.makeDirectories(root)
        try Files.makeDirectories(source)
        defer { try? Files.removeTree(base) }
        try #require(symlink("/", root + "/escape") == 0)
        let marker = "crpod-mountpoint-\(ObjectIDs.random().prefix(8))"

        let file = try MountPoints.create("/escape/tmp/\(marker)/hosts", in: root, directory: false)
        close(file)
        #expect(Files.exists(root + "/tmp/\(marker)/hosts"), "created in the root's /tmp")
        #expect(!Files.exists("/tmp/\(marker)"), "not in the host's /tmp")

        try Files.writeAtomically(source + "/seen", Array("bound\n".utf8))
        let directory = try MountPoints.create("/escape/data", in: root, directory: true)
        defer { close(directory) }
        try MountPoints.bind(source, onto: directory, path: root + "/data")
        #expect(try Files.readText(root + "/data/seen") == "bound\n")
        try MountPoints.unmount("/escape/data", in: root)
        #expect(!Mounts.isMountPoint(root + "/data") && !Files.exists(root + "/data/seen"), "unmounted through the root")
    }
}
