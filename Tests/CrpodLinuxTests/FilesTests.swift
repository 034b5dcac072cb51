import Foundation
import SystemPackage
import Testing
@testable import CrpodLinux

/// L1: the file helpers on temp trees (fixtures and checks use Foundation, not `Files`).
@Suite("Files")
struct FilesTests {
    @Test func writeAtomicallyCreatesWithModeAndLeavesNoTempFile() throws {
        try withTempTree { dir in
            let path = dir + "/state.json"
            try Files.writeAtomically(path, Array("{\"a\":1}".utf8))
            #expect(contents(path) == "{\"a\":1}")
            #expect(permissions(path) == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["state.json"])
        }
    }

    @Test func writeAtomicallyReplacesLongerContentAndOldMode() throws {
        try withTempTree { dir in
            let path = dir + "/state.json"
            try put(path, String(repeating: "old ", count: 1000), mode: 0o644)
            try Files.writeAtomically(path, Array("new".utf8))
            #expect(contents(path) == "new")
            #expect(permissions(path) == 0o600)
            try Files.writeAtomically(path, [], mode: 0o640)
            #expect(contents(path) == "")
            #expect(permissions(path) == 0o640)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["state.json"])
        }
    }

    @Test func writeAtomicallyLargePayload() throws {
        try withTempTree { dir in
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try Files.writeAtomically(dir + "/big", bytes)
            #expect(FileManager.default.contents(atPath: dir + "/big") == Data(bytes))
        }
    }

    @Test func writeAtomicallyIntoAMissingDirectoryNamesTheTempFile() throws {
        try withTempTree { dir in
            let path = dir + "/missing/state.json"
            let error = try #require(throws: LinuxError.self) { try Files.writeAtomically(path, [1]) }
            #expect(error == .syscall(operation: "create", path: "\(path).tmp-\(getpid())", errno: .noSuchFileOrDirectory))
        }
    }

    @Test func failedRenameRemovesTheTempFile() throws {
        try withTempTree { dir in
            try put(dir + "/target/keep", "x")  // a non-empty directory cannot be renamed over
            let error = try #require(throws: LinuxError.self) { try Files.writeAtomically(dir + "/target", [1, 2]) }
            #expect(error.errno == .isDirectory)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["target"])
        }
    }

    @Test func readReturnsBytesAndEnforcesTheLimit() throws {
        try withTempTree { dir in
            let path = dir + "/ten"
            try put(path, "0123456789")
            #expect(try Files.read(path, limit: 10) == Array("0123456789".utf8))
            #expect(try Files.readText(path) == "0123456789")
            let error = try #require(throws: LinuxError.self) { try Files.read(path, limit: 9) }
            #expect(error == .parse(file: path, line: nil, detail: "larger than 9 bytes"))
        }
    }

    @Test func readsKernelPseudoFiles() throws {
        // /proc files report size 0; reading must not rely on stat.
        let text = try Files.readText("/proc/self/stat")
        #expect(try ProcStat.parse(text).pid == getpid())
    }

    @Test func readOfAMissingFile() throws {
        let error = try #require(throws: LinuxError.self) { try Files.read("/nonexistent/crpod-file") }
        #expect(error == .syscall(operation: "open", path: "/nonexistent/crpod-file", errno: .noSuchFileOrDirectory))
        #expect(error.description == "open /nonexistent/crpod-file: No such file or directory (errno 2)")
    }

    @Test func writeExistingNeverCreates() throws {
        try withTempTree { dir in
            #expect(throws: LinuxError.self) { try Files.writeExisting(dir + "/absent", "1") }
            #expect(!FileManager.default.fileExists(atPath: dir + "/absent"))
            try put(dir + "/present", "")
            try Files.writeExisting(dir + "/present", "1")
            #expect(contents(dir + "/present") == "1")
        }
    }

    @Test func makeDirectoriesNestedWithModeAndIdempotent() throws {
        try withTempTree { dir in
            let deep = dir + "/a/b/c"
            try Files.makeDirectories(deep)
            #expect(isDir(deep))
            #expect(permissions(dir + "/a") == 0o700)
            #expect(permissions(deep) == 0o700)
            try Files.makeDirectories(deep)
            try Files.makeDirectories(dir + "/a/b/c/")  // trailing slash
            #expect(isDir(deep))
        }
    }

    @Test func makeDirectoriesThroughAFileFails() throws {
        try withTempTree { dir in
            try put(dir + "/file", "")
            let error = try #require(throws: LinuxError.self) { try Files.makeDirectories(dir + "/file/sub") }
            #expect(error == .syscall(operation: "mkdir", path: dir + "/file", errno: .notDirectory))
        }
    }

    /// Regression: EEXIST used to count as success even when the path was a file.
    @Test func makeDirectoriesOnAnExistingFile() throws {
        try withTempTree { dir in
            try put(dir + "/file", "")
            let error = try #require(throws: LinuxError.self) { try Files.makeDirectories(dir + "/file") }
            #expect(error == .syscall(operation: "mkdir", path: dir + "/file", errno: .notDirectory))
        }
    }

    @Test func removeTreeNestedAndKeepsSymlinkTargets() throws {
        try withTempTree { dir in
            try put(dir + "/outside/precious", "keep me")
            try put(dir + "/tree/a/b/c/file", "x")
            try put(dir + "/tree/a/.hidden", "x")
            try mkdirs(dir + "/tree/empty")
            try FileManager.default.createSymbolicLink(atPath: dir + "/tree/a/link", withDestinationPath: dir + "/outside")
            try Files.removeTree(dir + "/tree")
            #expect(!FileManager.default.fileExists(atPath: dir + "/tree"))
            #expect(contents(dir + "/outside/precious") == "keep me")
            try Files.removeTree(dir + "/tree")  // missing: nothing to do
            try put(dir + "/single", "x")
            try Files.removeTree(dir + "/single")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["outside"])
        }
    }

    @Test func listDirectoryIsSortedWithoutDotEntries() throws {
        try withTempTree { dir in
            for name in ["b", "a", "c", ".hidden", "B"] { try put("\(dir)/\(name)", "") }
            try mkdirs(dir + "/sub")
            #expect(try Files.listDirectory(dir) == [".hidden", "B", "a", "b", "c", "sub"])
            #expect(try Files.listDirectory(dir + "/sub") == [])
            let error = try #require(throws: LinuxError.self) { try Files.listDirectory(dir + "/none") }
            #expect(error.errno == .noSuchFileOrDirectory)
        }
    }

    @Test(arguments: [("/a/b", "/a"), ("/a", "/"), ("a", "."), ("a/b", "a"), ("/", "/")])
    func parent(path: String, expected: String) {
        #expect(Files.parent(of: path) == expected)
    }

    @Test func existsAndIsDirectory() throws {
        try withTempTree { dir in
            try put(dir + "/f", "")
            try FileManager.default.createSymbolicLink(atPath: dir + "/dangling", withDestinationPath: dir + "/nowhere")
            #expect(Files.exists(dir + "/f") && !Files.isDirectory(dir + "/f"))
            #expect(Files.exists(dir + "/dangling"), "exists uses lstat")
            #expect(Files.isDirectory(dir))
            #expect(!Files.exists(dir + "/nowhere"))
        }
    }
}

@Suite("FileLock")
struct FileLockTests {
    /// Two holders increment a counter file with a read–pause–write: without mutual exclusion
    /// updates get lost, and the `inside` flag catches any overlap directly.
    @Test func holdersNeverOverlap() async throws {
        try await withTempTree { dir in
            let lock = FileLock(path: dir + "/lock")
            let counter = dir + "/counter"
            try put(counter, "0")
            let inside = dir + "/inside"
            let rounds = 40
            let overlaps = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        var overlaps = 0
                        for _ in 0..<rounds {
                            try await lock.withLock {
                                if FileManager.default.fileExists(atPath: inside) { overlaps += 1 }
                                try put(inside, "held")
                                let value = Int(contents(counter) ?? "") ?? -1000
                                usleep(500)
                                try put(counter, "\(value + 1)")
                                try FileManager.default.removeItem(atPath: inside)
                            }
                        }
                        return overlaps
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(overlaps == 0)
            #expect(contents(counter) == "\(2 * rounds)")
            #expect(permissions(dir + "/lock") == 0o600)
        }
    }

    @Test func returnsTheBodysValueAndRethrows() async throws {
        try await withTempTree { dir in
            let lock = FileLock(path: dir + "/lock")
            let value = try await lock.withLock { 42 }
            #expect(value == 42)
            struct Boom: Error {}
            await #expect(throws: Boom.self) { try await lock.withLock { throw Boom() } }
            #expect(try await lock.withLock { "again" } == "again", "the lock was released after the throw")
        }
    }

    @Test func missingDirectoryIsASyscallError() async throws {
        let lock = FileLock(path: "/nonexistent-dir/crpod.lock")
        let error = await #expect(throws: LinuxError.self) { try await lock.withLock { 0 } }
        #expect(error == .syscall(operation: "open lock", path: "/nonexistent-dir/crpod.lock", errno: .noSuchFileOrDirectory))
    }
}
