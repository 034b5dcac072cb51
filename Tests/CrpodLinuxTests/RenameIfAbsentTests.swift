import Foundation
import SystemPackage
import Testing
@testable import CrpodLinux

/// What sits at a path in a `renameIfAbsent` case: a file with text, or a directory holding
/// one file with text (so "untouched" can be checked by content, not only by existence).
enum RenameEntry: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case file, directory

    var testDescription: String { rawValue }

    func make(_ path: String, text: String) throws {
        switch self {
        case .file: try put(path, text)
        case .directory: try put(path + "/inner", text)
        }
    }

    /// The text `make` wrote, read back; nil when the path is not this kind of entry.
    func text(_ path: String) -> String? {
        switch self {
        case .file: isDir(path) ? nil : contents(path)
        case .directory: isDir(path) ? contents(path + "/inner") : nil
        }
    }
}

/// L1: `Files.renameIfAbsent` (renameat2 RENAME_NOREPLACE) on temp trees: the move that
/// seeds a pod's /dev/shm from a checkpoint without ever replacing the pod's own files.
@Suite("Files.renameIfAbsent")
struct RenameIfAbsentTests {
    @Test("an absent target: renamed, true, the source is gone", arguments: RenameEntry.allCases)
    func renamesWhenTheTargetIsAbsent(_ source: RenameEntry) throws {
        try withTempTree { dir in
            try source.make(dir + "/from", text: "archive")
            #expect(try Files.renameIfAbsent(dir + "/from", to: dir + "/to"))
            #expect(source.text(dir + "/to") == "archive")
            #expect(!FileManager.default.fileExists(atPath: dir + "/from"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["to"])
        }
    }

    /// Every pairing, including a file onto a directory and back: plain rename(2) would
    /// replace a file, or an empty directory, or fail; RENAME_NOREPLACE answers EEXIST first.
    @Test("an existing target: false, both untouched",
          arguments: RenameEntry.allCases, RenameEntry.allCases)
    func keepsAnExistingTarget(_ source: RenameEntry, _ target: RenameEntry) throws {
        try withTempTree { dir in
            try source.make(dir + "/from", text: "archive")
            try target.make(dir + "/to", text: "live")
            #expect(try Files.renameIfAbsent(dir + "/from", to: dir + "/to") == false)
            #expect(source.text(dir + "/from") == "archive")
            #expect(target.text(dir + "/to") == "live")
        }
    }

    @Test("an existing empty directory is kept too (rename(2) would replace it)")
    func keepsAnEmptyTargetDirectory() throws {
        try withTempTree { dir in
            try mkdirs(dir + "/from")
            try mkdirs(dir + "/to")
            #expect(try Files.renameIfAbsent(dir + "/from", to: dir + "/to") == false)
            #expect(isDir(dir + "/from") && isDir(dir + "/to"))
        }
    }

    @Test("a dangling symlink counts as an existing target and is not followed")
    func keepsADanglingSymlinkTarget() throws {
        try withTempTree { dir in
            try put(dir + "/from", "archive")
            try FileManager.default.createSymbolicLink(atPath: dir + "/to", withDestinationPath: dir + "/nowhere")
            #expect(try Files.renameIfAbsent(dir + "/from", to: dir + "/to") == false)
            #expect(contents(dir + "/from") == "archive")
            #expect(!FileManager.default.fileExists(atPath: dir + "/nowhere"))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/to") == dir + "/nowhere")
        }
    }

    @Test("a missing source is an error naming both paths and ENOENT")
    func missingSourceThrows() throws {
        try withTempTree { dir in
            let error = try #require(throws: LinuxError.self) {
                try Files.renameIfAbsent(dir + "/missing", to: dir + "/to")
            }
            #expect(error == .syscall(operation: "rename \(dir)/missing to", path: dir + "/to", errno: .noSuchFileOrDirectory))
            #expect(error.description == "rename \(dir)/missing to \(dir)/to: No such file or directory (errno 2)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        }
    }

    @Test("a target in a missing directory is an error, and the source stays")
    func missingTargetDirectoryThrows() throws {
        try withTempTree { dir in
            try put(dir + "/from", "archive")
            let error = try #require(throws: LinuxError.self) {
                try Files.renameIfAbsent(dir + "/from", to: dir + "/gone/to")
            }
            #expect(error == .syscall(operation: "rename \(dir)/from to", path: dir + "/gone/to", errno: .noSuchFileOrDirectory))
            #expect(contents(dir + "/from") == "archive")
        }
    }
}
