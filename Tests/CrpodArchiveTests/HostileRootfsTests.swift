import Foundation
import Testing
@testable import CrpodArchive

/// A hostile rootfs-diff.tar (applied to `Sandbox.target` as the upper directory). Escapes
/// aim at the sandbox's sibling directory, never at the real /etc.
enum HostileRootfs: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case dotDot, absolute, symlinkToRootThenThrough, relativeSymlinkThenThrough
    case hardlinkDotDot, hardlinkAbsolute, characterDevice, whiteoutDevice, blockDevice, duplicate

    var testDescription: String { rawValue }

    func members(_ box: Sandbox) -> [TarMember] {
        let sibling = String((box.sibling as NSString).standardizingPath.drop { $0 == "/" })
        switch self {
        case .dotDot: return [.file("../sibling/x", "x")]
        case .absolute: return [.file("\(box.sibling)/x", "x")]
        case .symlinkToRootThenThrough: return [.symlink("a", to: "/"), .file("a/\(sibling)/passwd", "x")]
        case .relativeSymlinkThenThrough: return [.symlink("b", to: "../sibling"), .file("b/passwd", "x")]
        case .hardlinkDotDot: return [.hardlink("h", to: "../../etc/passwd")]
        case .hardlinkAbsolute: return [.hardlink("h", to: "/etc/passwd")]
        case .characterDevice: return [TarMember(name: "dev/null", kind: .characterDevice(major: 1, minor: 3))]
        case .whiteoutDevice: return [TarMember(name: "etc/gone", kind: .characterDevice(major: 0, minor: 0))]
        case .blockDevice: return [TarMember(name: "dev/sda", kind: .blockDevice(major: 8, minor: 0))]
        case .duplicate: return [.file("a", "1"), .symlink("a", to: "/etc/passwd")]
        }
    }

    func matches(_ error: ArchiveError?, _ box: Sandbox) -> Bool {
        let sibling = String((box.sibling as NSString).standardizingPath.drop { $0 == "/" })
        switch (self, error) {
        case (.dotDot, .unsafeMemberName("../sibling/x", _)?): return true
        case (.absolute, .unsafeMemberName(let name, _)?): return name == "\(box.sibling)/x"
        case (.symlinkToRootThenThrough, .libarchive(let operation, _, let message)?):
            return operation == "create member a/\(sibling)/passwd in" && message.contains("Cannot extract through symlink")
        case (.relativeSymlinkThenThrough, .libarchive(let operation, _, let message)?):
            return operation == "create member b/passwd in" && message.contains("Cannot extract through symlink")
        case (.hardlinkDotDot, .unsafeLinkTarget(box.archive, "h", "../../etc/passwd", _)?): return true
        case (.hardlinkAbsolute, .unsafeLinkTarget(box.archive, "h", "/etc/passwd", _)?): return true
        case (.characterDevice, .memberTypeRefused(box.archive, "dev/null", "character device")?): return true
        case (.whiteoutDevice, .memberTypeRefused(box.archive, "etc/gone", "character device")?): return true
        case (.blockDevice, .memberTypeRefused(box.archive, "dev/sda", "block device")?): return true
        case (.duplicate, .duplicateMember("a")?): return true
        default: return false
        }
    }
}

@Suite("RootfsDiff.apply on hostile input")
struct HostileRootfsTests {
    @Test(arguments: HostileRootfs.allCases)
    func refusedAndNothingOutsideUpperTouched(_ hostile: HostileRootfs) throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, hostile.members(box))
            try mkdirs(box.target)
            let error = archiveError {
                _ = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: [])
            }
            #expect(hostile.matches(error, box), "\(String(describing: error))")
            try box.expectNothingOutside()
        }
    }

    /// A hard link through a symlink inside upper would share an inode with a host file.
    @Test func aHardLinkThroughASymlinkIsRefused() throws {
        try Sandbox.run { box throws in
            try put("\(box.sibling)/victim", "host secret")
            try writeTar(box.archive, [.symlink("s", to: box.sibling), .hardlink("h", to: "s/victim")])
            try mkdirs(box.target)
            let error = archiveError {
                _ = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: [])
            }
            guard case .libarchive(let operation, _, _)? = error else { Issue.record("\(String(describing: error))"); return }
            #expect(operation == "create member h in")
            #expect(lstatInfo("\(box.sibling)/victim")?.st_nlink == 1)
            #expect(try listing(box.sibling) == ["victim"])
            #expect(!FileManager.default.fileExists(atPath: "\(box.target)/h"))
        }
    }

    @Test(arguments: ["/../etc/passwd", "../x", "/", "", "//etc/x", "/a/./b", "/a//b", "/a/"])
    func unsafeDeletedPathsAreRefusedBeforeAnythingIsWritten(entry: String) throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [.file("etc/hostname", "pod")])
            try mkdirs(box.target)
            let error = archiveError {
                _ = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: ["/ok", entry])
            }
            guard case .unsafeDeletedPath(entry, _)? = error else { Issue.record("\(String(describing: error))"); return }
            #expect(try listing(box.target) == [])
            try box.expectNothingOutside()
        }
    }

    @Test func aWhiteoutIsNeverMadeThroughASymlink() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [.symlink("s", to: box.sibling), .file("f", "file")])
            try mkdirs(box.target)
            for entry in ["/s/victim", "/f/victim"] {
                let error = archiveError {
                    _ = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: [entry])
                }
                guard case .unsafeDeletedPath(entry, let reason)? = error else { Issue.record("\(String(describing: error))"); return }
                #expect(reason.contains("symlink or not a directory"))
                try box.expectNothingOutside()
                try FileManager.default.removeItem(atPath: box.target)
                try mkdirs(box.target)
            }
        }
    }

    @Test(.enabled(if: geteuid() == 0, "mknod of a whiteout needs root"))
    func aDeletedPathTheDiffWroteIsAConflictButRepeatsAreFine() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [.file("etc/x", "1")])
            try mkdirs(box.target)
            let report = try RootfsDiff.apply(
                tarPath: box.archive, upperDirectory: box.target, deletedFiles: ["/usr/lib/gone", "/usr/lib/gone"])
            #expect(report.whiteouts == ["/usr/lib/gone"])
            #expect(permissions("\(box.target)/usr/lib") == 0o755)
            try FileManager.default.removeItem(atPath: box.target)
            try mkdirs(box.target)
            let error = archiveError {
                _ = try RootfsDiff.apply(tarPath: box.archive, upperDirectory: box.target, deletedFiles: ["/etc/x"])
            }
            guard case .deletedPathConflict("/etc/x", "regular file")? = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(fileBytes("\(box.target)/etc/x") == Array("1".utf8))
        }
    }
}
