import Foundation
import Testing
@testable import CrpodArchive

/// Images copied off the export's tmpfs when the export failed: directories and regular files
/// with their modes and bytes, nothing else, and never into an existing directory.
@Suite("ImageCopy")
struct ImageCopyTests {
    @Test func copiesFilesAndDirectoriesWithModesAndSkipsTheRest() throws {
        try withTempDir { dir throws in
            let big = noise(3 << 20 + 17)
            try put("\(dir)/src/pages-1.img", big, mode: 0o600)
            try put("\(dir)/src/descriptors.json", "[]", mode: 0o664)
            try put("\(dir)/src/sub/inner.img", "x")
            try FileManager.default.createSymbolicLink(atPath: "\(dir)/src/link", withDestinationPath: "/etc/passwd")
            try ImageCopy.copyTree(from: "\(dir)/src", to: "\(dir)/dst")
            #expect(FileManager.default.contents(atPath: "\(dir)/dst/pages-1.img") == Data(big))
            #expect(FileManager.default.contents(atPath: "\(dir)/dst/sub/inner.img") == Data("x".utf8))
            let mode = try FileManager.default.attributesOfItem(atPath: "\(dir)/dst/descriptors.json")[.posixPermissions] as? Int
            #expect(mode == 0o664, "the umask does not narrow it")
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/dst/link"), "symlinks are not copied")
            #expect(archiveError { try ImageCopy.copyTree(from: "\(dir)/src", to: "\(dir)/dst") } != nil, "the target must not exist")
        }
    }
}
