import Foundation
import Testing
@testable import CrpodArchive

/// L1 (root-only where chown, mknod or security.capability need it): RootfsDiff.apply.
@Suite("RootfsDiff.apply")
struct RootfsApplyTests {
    /// `security.capability` v2 granting CAP_NET_RAW (bit 13), effective.
    static let netRaw: [UInt8] = [0x01, 0, 0, 0x02, 0, 0x20, 0, 0] + [UInt8](repeating: 0, count: 12)

    @Test(.enabled(if: geteuid() == 0, "chown, mkfifo ownership and mknod of whiteouts need root"))
    func buildThenApplyRebuildsTheUpperDirectory() throws {
        try withTempDir { dir throws in
            let source = "\(dir)/source"
            try makeSourceUpper(source)
            let tar = "\(dir)/rootfs-diff.tar"
            let deleted = try RootfsDiff.build(upperDirectory: source, tarPath: tar)
            #expect(deleted == ["/etc/removed", "/gone"])
            let upper = "\(dir)/upper"
            try mkdirs(upper)

            let report = try RootfsDiff.apply(tarPath: tar, upperDirectory: upper, deletedFiles: deleted)

            #expect(report.whiteouts == ["/etc/removed", "/gone"])
            #expect(report.setuidStripped == ["usr/bin/su"])
            #expect(report.filesWritten == 13)
            #expect(report.bytesWritten == 20 + 4)
            #expect(report.skipped.isEmpty && report.warnings.isEmpty && report.droppedXattrs.isEmpty)
            let hosts = try #require(lstatInfo("\(upper)/etc/hosts"))
            #expect(hosts.st_mode & 0o7777 == 0o640 && hosts.st_uid == 1234 && hosts.st_gid == 5678)
            #expect(hosts.st_mtim.tv_sec == 1_600_000_000)
            #expect(fileBytes("\(upper)/etc/hosts") == Array("127.0.0.1 localhost\n".utf8))
            #expect(lstatInfo("\(upper)/etc/hosts.bak")?.st_ino == hosts.st_ino)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(upper)/etc/alias") == "hosts")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(upper)/etc/passwd-link") == "/etc/passwd")
            #expect(lstatInfo("\(upper)/var/fifo").map { $0.st_mode & S_IFMT } == S_IFIFO)
            #expect(permissions("\(upper)/var/empty") == 0o750)
            #expect(permissions("\(upper)/usr/bin/su") == 0o755)
            #expect(permissions("\(upper)/tmp") == 0o1777)
            #expect(permissions("\(upper)/srv") == 0o2775)
            for whiteout in ["etc/removed", "gone"] {
                let info = try #require(lstatInfo("\(upper)/\(whiteout)"))
                #expect(info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0, "\(whiteout)")
            }
        }
    }

    private func makeSourceUpper(_ source: String) throws {
        try put("\(source)/etc/hosts", "127.0.0.1 localhost\n", mode: 0o640)
        #expect(chown("\(source)/etc/hosts", 1234, 5678) == 0)
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, "\(source)/etc/hosts", &times, 0) == 0)
        #expect(link("\(source)/etc/hosts", "\(source)/etc/hosts.bak") == 0)
        try FileManager.default.createSymbolicLink(atPath: "\(source)/etc/alias", withDestinationPath: "hosts")
        try FileManager.default.createSymbolicLink(atPath: "\(source)/etc/passwd-link", withDestinationPath: "/etc/passwd")
        try mkdirs("\(source)/var/empty")
        #expect(chmod("\(source)/var/empty", 0o750) == 0)
        #expect(mkfifo("\(source)/var/fifo", 0o600) == 0)
        try put("\(source)/usr/bin/su", "ELF!")
        #expect(chmod("\(source)/usr/bin/su", 0o4755) == 0)
        for (name, mode) in [("tmp", mode_t(0o1777)), ("srv", 0o2775)] {
            try mkdirs("\(source)/\(name)")
            #expect(chmod("\(source)/\(name)", mode) == 0)
        }
        #expect(mknod("\(source)/etc/removed", S_IFCHR, 0) == 0)
        #expect(mknod("\(source)/gone", S_IFCHR, 0) == 0)
    }

    @Test(.enabled(if: geteuid() == 0, "setting security.capability needs CAP_SETFCAP"))
    func onlyPortableXattrsAreWritten() throws {
        try Sandbox.run { box throws in
            var ping = TarMember.file("bin/ping", "ELF", mode: 0o755)
            ping.xattrs = [
                ("security.capability", Self.netRaw), ("user.note", Array("hi".utf8)),
                ("trusted.overlay.opaque", Array("y".utf8)), ("security.selinux", Array("system_u:object_r:bin_t:s0".utf8)),
            ]
            var opaque = TarMember.dir("d")
            opaque.xattrs = [("trusted.overlay.opaque", Array("y".utf8))]
            try writeTar(box.archive, [ping, opaque])
            try mkdirs(box.target)

            let report = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: [])

            #expect(xattr("\(box.target)/bin/ping", "security.capability") == Self.netRaw)
            #expect(xattr("\(box.target)/bin/ping", "user.note") == Array("hi".utf8))
            #expect(xattr("\(box.target)/bin/ping", "trusted.overlay.opaque") == nil)
            #expect(xattr("\(box.target)/d", "trusted.overlay.opaque") == nil)
            #expect(report.fileCapabilities == ["bin/ping"])
            #expect(Set(report.droppedXattrs) == [
                "bin/ping: trusted.overlay.opaque", "bin/ping: security.selinux", "d: trusted.overlay.opaque",
            ])
            try box.expectNothingOutside()
        }
    }

    @Test func setuidAndSetgidAreStrippedAndReported() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [
                .file("bin/su", "su", mode: 0o4755), .file("bin/wall", "wall", mode: 0o2755),
                .dir("srv", mode: 0o2775), .dir("tmp", mode: 0o1777), .file("bin/ls", "ls", mode: 0o755),
            ])
            try mkdirs(box.target)
            let report = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: [])
            #expect(report.setuidStripped == ["bin/su", "bin/wall"])
            #expect(permissions("\(box.target)/bin/su") == 0o755)
            #expect(permissions("\(box.target)/bin/wall") == 0o755)
            #expect(permissions("\(box.target)/srv") == 0o2775)
            #expect(permissions("\(box.target)/tmp") == 0o1777)
        }
    }

    @Test func aRootEntryIsSkippedAndUpperMustBeEmpty() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [.dir("./", mode: 0o777), .file("./etc/hostname", "pod")])
            try mkdirs(box.target)
            #expect(chmod(box.target, 0o700) == 0)
            let report = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: [])
            #expect(report.skipped == ["./"])
            #expect(permissions(box.target) == 0o700)
            #expect(fileBytes("\(box.target)/etc/hostname") == Array("pod".utf8))
            let again = archiveError {
                _ = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: [])
            }
            guard case .targetNotEmpty? = again else { Issue.record("\(String(describing: again))"); return }
        }
    }

    /// The podman fixture's own rootfs-diff.tar (`tmp/hello`, no directory entry) and
    /// deleted.files (`["/bin/vi"]`), extracted from the outer archive first.
    @Test(.enabled(if: geteuid() == 0, "mknod of a whiteout needs root"))
    func appliesThePodmanFixture() throws {
        try withTempDir { dir throws in
            let outer = try ArchiveExtractor.extract(
                archive: "\(PodmanFixtures.directory)/standalone.tar", into: "\(dir)/archive",
                keepContentOf: { $0 == "deleted.files" }, contentLimit: 4096)
            let deleted = try JSONDecoder().decode([String].self, from: Data(#require(outer.contents["deleted.files"])))
            try mkdirs("\(dir)/upper")
            let report = try RootfsDiff.apply(
                tarPath: "\(dir)/archive/rootfs-diff.tar", upperDirectory: "\(dir)/upper", deletedFiles: deleted)
            #expect(report.whiteouts == ["/bin/vi"])
            #expect(report.filesWritten == 1)
            #expect(try listing("\(dir)/upper") == ["bin", "tmp"])
            #expect(fileBytes("\(dir)/upper/tmp/hello")?.isEmpty == false)
            #expect(lstatInfo("\(dir)/upper/bin/vi").map { $0.st_mode & S_IFMT == S_IFCHR && $0.st_rdev == 0 } == true)
        }
    }
}
