#if canImport(Glibc)
import Glibc
#endif
@testable import CrpodLinux
import Foundation
import Synchronization
import Testing

@Suite("opening untrusted files once, off the pool")
struct OpenedFileTests {
    /// The refusal for `name` in `dir`, as text.
    func refusal(_ dir: String, _ name: String, maxBytes: UInt64 = 1 << 20) -> String {
        do {
            _ = try OpenDirectory(dir).openRegularFile(name, maxBytes: maxBytes)
            return "opened"
        } catch { return "\(error)" }
    }

    @Test func onlyRegularFilesWithinTheLimitOpen() throws {
        try withTempTree { dir in
            FileManager.default.createFile(atPath: dir + "/ok", contents: Data("12345".utf8))
            try #require(mkfifo(dir + "/fifo", 0o600) == 0)
            try #require(symlink("/dev/zero", dir + "/zero") == 0)
            try #require(symlink("/etc/passwd", dir + "/passwd") == 0)
            try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: false)
            #expect(refusal(dir, "ok") == "opened")
            #expect(refusal(dir, "fifo").contains("is a FIFO (named pipe), not a regular file"), "a FIFO fails at once instead of blocking")
            #expect(refusal(dir, "zero").contains("is a symbolic link to /dev/zero (not followed)"))
            #expect(refusal(dir, "passwd").contains("is a symbolic link to /etc/passwd (not followed)"))
            #expect(refusal(dir, "sub").contains("is a directory"))
            #expect(refusal(dir, "ok", maxBytes: 4).contains("has 5 bytes, over the limit of 4"))
            let file = try OpenedFile.open(path: dir + "/ok", maxBytes: 5)
            #expect(try file.readAll() == Array("12345".utf8))
            let second = try file.reopen()
            defer { close(second) }
            var byte: UInt8 = 0
            #expect(read(second, &byte, 1) == 1 && byte == UInt8(ascii: "1"), "the reopened fd has its own offset")
        }
    }

    @Test func openingBeneathAnAllowedDirectoryFollowsNoSymlink() throws {
        try withTempTree { dir in
            try FileManager.default.createDirectory(atPath: dir + "/real", withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: dir + "/real/a.tar", contents: Data("x".utf8))
            try #require(symlink(dir + "/real", dir + "/swapped") == 0)
            #expect(throws: Never.self) { try OpenedFile.open(beneath: dir, relative: "real/a.tar", path: dir + "/real/a.tar", maxBytes: 10) }
            #expect(throws: LinuxError.notRegularFile(path: dir + "/swapped/a.tar", kind: "reached through a symbolic link (not followed)")) {
                try OpenedFile.open(beneath: dir, relative: "swapped/a.tar", path: dir + "/swapped/a.tar", maxBytes: 10)
            }
        }
    }

    @Test func aDirectoryOpenedBeneathItsRootStaysTheOneThatWasChecked() throws {
        try withTempTree { dir in
            try FileManager.default.createDirectory(atPath: dir + "/allowed/out", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
            try #require(symlink(dir + "/elsewhere", dir + "/allowed/link") == 0)
            #expect(throws: LinuxError.self) { try OpenDirectory(beneath: dir + "/allowed", relative: "link", path: dir + "/allowed/link") }
            let out = try OpenDirectory(beneath: dir + "/allowed", relative: "out", path: dir + "/allowed/out")
            // Swapped after the open: the anchored path still reaches the opened directory.
            try #require(rename(dir + "/allowed/out", dir + "/allowed/old") == 0)
            try #require(symlink(dir + "/elsewhere", dir + "/allowed/out") == 0)
            FileManager.default.createFile(atPath: out.anchoredPath("a.tar"), contents: Data("x".utf8))
            #expect(FileManager.default.fileExists(atPath: dir + "/allowed/old/a.tar"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/elsewhere/a.tar"))
        }
    }

    @Test func blockingWorkRunsOnItsOwnThreadAndSeesCancellation() async throws {
        let caller = pthread_self()
        let other = try await BlockingThread.run("test") { _ in pthread_equal(pthread_self(), caller) == 0 }
        #expect(other)
        let started = Atomic<Bool>(false)
        let task = Task {
            try await BlockingThread.run("wait for cancel") { flag in
                started.store(true, ordering: .relaxed)
                while !flag.isCancelled { usleep(1000) }
                return "stopped"
            }
        }
        while !started.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(1)) }
        task.cancel()
        #expect(try await task.value == "stopped")
    }
}
