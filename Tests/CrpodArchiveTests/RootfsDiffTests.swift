import Foundation
import Testing
@testable import CrpodArchive

/// L1 (and one root-only case): rootfs-diff.tar from a temp "upper" directory.
@Suite("RootfsDiff")
struct RootfsDiffTests {
    @Test func buildsARelativeTarWithLinksAndNoManifest() throws {
        try withTempDir { dir throws in
            let upper = "\(dir)/upper"
            try put("\(upper)/etc/hosts", "127.0.0.1 localhost\n", mode: 0o640)
            try mkdirs("\(upper)/var/empty")
            try FileManager.default.createSymbolicLink(atPath: "\(upper)/etc/alias", withDestinationPath: "hosts")
            #expect(link("\(upper)/etc/hosts", "\(upper)/etc/hosts.bak") == 0)
            #expect(mkfifo("\(upper)/var/fifo", 0o644) == 0)
            let tar = "\(dir)/\(RootfsDiff.tarName)"

            let deleted = try RootfsDiff.build(upperDirectory: upper, tarPath: tar)

            #expect(deleted == [])
            #expect(permissions(tar) == 0o600)
            #expect(try listing(dir) == [RootfsDiff.tarName, "upper"])
            let (members, summary) = try scanAll(tar)
            #expect(summary.compression == CompressionMethod.none)
            #expect(members.map(\.name) == ["etc", "etc/alias", "etc/hosts", "etc/hosts.bak", "var", "var/empty", "var/fifo"])
            let byName = Dictionary(uniqueKeysWithValues: members.map { ($0.name, $0) })
            #expect(byName["etc/hosts"]?.mode == 0o640)
            #expect(byName["etc/hosts"]?.uid == Int64(geteuid()))
            #expect(byName["etc/hosts.bak"]?.type == .hardlink && byName["etc/hosts.bak"]?.linkTarget == "etc/hosts")
            #expect(byName["etc/alias"]?.linkTarget == "hosts")
            #expect(byName["var/fifo"]?.type == .other(fileType: 0o010000))
        }
    }

    /// Real overlay whiteouts are 0:0 character devices; making one needs CAP_MKNOD.
    @Test(.enabled(if: geteuid() == 0, "mknod of a character device needs root"))
    func whiteoutsBecomeDeletedPathsAndDevicesStay() throws {
        try withTempDir { dir throws in
            let upper = "\(dir)/upper"
            try put("\(upper)/etc/new", "n")
            #expect(mknod("\(upper)/etc/removed", S_IFCHR | 0o000, 0) == 0)
            #expect(mknod("\(upper)/gone", S_IFCHR | 0o000, 0) == 0)
            #expect(link("\(upper)/gone", "\(upper)/etc/also-gone") == 0)
            #expect(mknod("\(upper)/null", S_IFCHR | 0o666, (1 << 8) | 3) == 0)

            let deleted = try RootfsDiff.build(upperDirectory: upper, tarPath: "\(dir)/rootfs-diff.tar")

            #expect(deleted == ["/etc/also-gone", "/etc/removed", "/gone"])
            let (members, _) = try scanAll("\(dir)/rootfs-diff.tar")
            #expect(members.map(\.name) == ["etc", "etc/new", "null"])
            #expect(members.last?.type == .other(fileType: 0o020000))
        }
    }

    @Test func missingUpperDirectoryLeavesNothingBehind() throws {
        try withTempDir { dir throws in
            let error = archiveError { _ = try RootfsDiff.build(upperDirectory: "\(dir)/nope", tarPath: "\(dir)/rootfs-diff.tar") }
            #expect(error?.description.contains("\(dir)/nope") == true)
            #expect(try listing(dir) == [])
        }
    }
}
