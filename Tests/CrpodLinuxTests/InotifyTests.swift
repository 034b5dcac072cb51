import Foundation
import SystemPackage
import Testing
@testable import CrpodLinux

/// L1: the spool watcher on temp dirs. No sleeps for synchronization: events are read from the
/// stream until an expected one arrives (a "sentinel" file proves nothing else came before it),
/// raced against a 5 s deadline. Serialized because one test counts the process's threads.
@Suite("Inotify", .serialized)
struct InotifyTests {
    @Test func closedFileIsReadyOnce() async throws {
        try await withTempTree { dir in
            let watcher = try DirectoryWatcher(directory: dir)
            defer { watcher.stop() }
            try writeAndClose(dir + "/a.tar", "data")
            try writeAndClose(dir + "/sentinel", "")
            let events = try await collect(watcher.events) { $0 == .fileReady(directory: dir, name: "sentinel") }
            #expect(events == [.fileReady(directory: dir, name: "a.tar"), .fileReady(directory: dir, name: "sentinel")])
        }
    }

    @Test func partFileRenamedInGivesOneEventForTheFinalName() async throws {
        try await withTempTree { dir in
            let watcher = try DirectoryWatcher(directory: dir)
            defer { watcher.stop() }
            try writeAndClose(dir + "/b.tar.part", "data")
            #expect(rename(dir + "/b.tar.part", dir + "/b.tar") == 0)
            try writeAndClose(dir + "/sentinel", "")
            let events = try await collect(watcher.events) { $0 == .fileReady(directory: dir, name: "sentinel") }
            #expect(events == [.fileReady(directory: dir, name: "b.tar"), .fileReady(directory: dir, name: "sentinel")])
        }
    }

    @Test func dotfilesAndCustomSuffixesAreHidden() async throws {
        try await withTempTree { dir in
            let filter = SpoolFilter(temporarySuffixes: [".part", ".tmp"])
            let watcher = try DirectoryWatcher(directory: dir, filter: filter)
            defer { watcher.stop() }
            try writeAndClose(dir + "/.c.tar", "data")
            try writeAndClose(dir + "/c.tar.tmp", "data")
            try writeAndClose(dir + "/d.tar.zst.part-1f2e", "data")  // crpod checkpoint --export into the spool
            try writeAndClose(dir + "/e.tar.zst.tmp-4242", "data")  // Files.writeAtomically
            try mkdirs(dir + "/subdir")
            try writeAndClose(dir + "/sentinel", "")
            let events = try await collect(watcher.events) { $0 == .fileReady(directory: dir, name: "sentinel") }
            #expect(events == [.fileReady(directory: dir, name: "sentinel")])
        }
    }

    @Test func eventNamesTheRightDirectory() async throws {
        try await withTempTree { root in
            let (one, two) = (root + "/one", root + "/two")
            try mkdirs(one)
            try mkdirs(two)
            let watcher = try DirectoryWatcher(directories: [one, two])
            defer { watcher.stop() }
            try writeAndClose(two + "/x.tar", "data")
            try writeAndClose(one + "/y.tar", "data")
            let events = try await collect(watcher.events) { $0 == .fileReady(directory: one, name: "y.tar") }
            #expect(events == [.fileReady(directory: two, name: "x.tar"), .fileReady(directory: one, name: "y.tar")])
        }
    }

    @Test func removedDirectoryIsReportedGoneOnce() async throws {
        try await withTempTree { root in
            let (gone, kept) = (root + "/gone", root + "/kept")
            try mkdirs(gone)
            try mkdirs(kept)
            let watcher = try DirectoryWatcher(directories: [gone, kept])
            defer { watcher.stop() }
            #expect(rmdir(gone) == 0)
            try writeAndClose(kept + "/sentinel", "")
            let events = try await collect(watcher.events) { $0 == .fileReady(directory: kept, name: "sentinel") }
            #expect(events == [.directoryGone(gone), .fileReady(directory: kept, name: "sentinel")])
        }
    }

    @Test func scanListsExistingReadyFilesSorted() throws {
        try withTempTree { dir in
            for name in ["b.tar", "a.tar", ".hidden", "c.tar.part"] { try put(dir + "/" + name, "x") }
            try mkdirs(dir + "/d.tar")
            #expect(symlink(dir + "/a.tar", dir + "/e.tar") == 0)
            #expect(try DirectoryWatcher.scan(dir) == ["a.tar", "b.tar"])
            #expect(try DirectoryWatcher.scan(dir, filter: SpoolFilter(hidesDotfiles: false, temporarySuffixes: []))
                == [".hidden", "a.tar", "b.tar", "c.tar.part"])
        }
    }

    @Test func missingDirectoryThrowsNamingThePath() throws {
        try withTempTree { dir in
            let missing = dir + "/nope"
            #expect(throws: LinuxError.syscall(operation: "inotify_add_watch", path: missing, errno: .noSuchFileOrDirectory)) {
                try DirectoryWatcher(directories: [dir, missing])
            }
            #expect(throws: LinuxError.syscall(operation: "opendir", path: missing, errno: .noSuchFileOrDirectory)) {
                try DirectoryWatcher.scan(missing)
            }
            try put(dir + "/file", "x")
            #expect(throws: LinuxError.syscall(operation: "inotify_add_watch", path: dir + "/file", errno: .notDirectory)) {
                try DirectoryWatcher(directory: dir + "/file")
            }
        }
    }

    @Test func stopFinishesTheStreamAndEndsTheThread() async throws {
        try await withTempTree { dir in
            // stop() joins the loop thread before it returns. Counting /proc/self/task would be
            // exact only with no other suite starting threads, so the tests run in parallel
            // check the visible contract: the stream ends and stop() is idempotent.
            let watcher = try DirectoryWatcher(directory: dir)
            watcher.stop()
            let events = try await collect(watcher.events) { _ in false }
            #expect(events.isEmpty)
            watcher.stop()  // idempotent
        }
    }

    @Test func droppingTheWatcherFinishesTheStream() async throws {
        try await withTempTree { dir in
            var watcher: DirectoryWatcher? = try DirectoryWatcher(directory: dir)
            let events = watcher!.events
            watcher = nil
            #expect(try await collect(events) { _ in false }.isEmpty)
        }
    }

    // L0: decoding and translation on literal bytes, including the overflow event the kernel
    // only emits when 16384 events are pending.
    @Test func decodeBoundsAndTrimsNames() {
        var bytes = header(wd: 1, mask: UInt32(IN_CLOSE_WRITE), len: 16) + Array("a.tar".utf8) + Array(repeating: 0, count: 11)
        bytes += header(wd: -1, mask: UInt32(IN_Q_OVERFLOW), len: 0)
        bytes += header(wd: 1, mask: UInt32(IN_MOVED_TO), len: 32) + Array("truncated".utf8)  // len past the end
        let events = bytes.withUnsafeBytes { RawInotifyEvent.decode($0) }
        #expect(events == [
            RawInotifyEvent(wd: 1, mask: UInt32(IN_CLOSE_WRITE), name: "a.tar"),
            RawInotifyEvent(wd: -1, mask: UInt32(IN_Q_OVERFLOW), name: ""),
            RawInotifyEvent(wd: 1, mask: UInt32(IN_MOVED_TO), name: "truncated"),
        ])
    }

    @Test func translateRules() {
        var table = WatchTable(directories: [1: "/spool"], filter: .default)
        #expect(table.translate(.init(wd: -1, mask: UInt32(IN_Q_OVERFLOW), name: "")) == .overflow)
        #expect(table.translate(.init(wd: 1, mask: UInt32(IN_MOVED_TO), name: "x")) == .fileReady(directory: "/spool", name: "x"))
        #expect(table.translate(.init(wd: 1, mask: UInt32(IN_MOVED_TO | IN_ISDIR), name: "d")) == nil)
        #expect(table.translate(.init(wd: 1, mask: UInt32(IN_CLOSE_WRITE), name: "x.part")) == nil)
        #expect(table.translate(.init(wd: 7, mask: UInt32(IN_CLOSE_WRITE), name: "x")) == nil)
        #expect(table.translate(.init(wd: 1, mask: UInt32(IN_MOVE_SELF), name: "")) == .directoryGone("/spool"))
        #expect(table.translate(.init(wd: 1, mask: UInt32(IN_IGNORED), name: "")) == nil)
    }
}

private struct DeadlinePassed: Error {}

/// Reads `stream` until `done` accepts an event (included) or the stream finishes; throws after
/// `seconds`. Consumes the stream: an AsyncStream ends when its reading task is cancelled.
private func collect(
    _ stream: AsyncStream<WatchEvent>, seconds: Double = 5, until done: @escaping @Sendable (WatchEvent) -> Bool
) async throws -> [WatchEvent] {
    try await withThrowingTaskGroup(of: [WatchEvent]?.self) { group in
        group.addTask {
            var seen: [WatchEvent] = []
            for await event in stream {
                seen.append(event)
                if done(event) { break }
            }
            return seen
        }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let events = first else { throw DeadlinePassed() }
        return events
    }
}

/// open(O_CREAT|O_TRUNC) + write + close, so the watcher sees exactly one IN_CLOSE_WRITE.
private func writeAndClose(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw Errno(rawValue: errno) }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw Errno(rawValue: errno) }
}



private func header(wd: Int32, mask: UInt32, len: UInt32) -> [UInt8] {
    // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[]; } in host order.
    withUnsafeBytes(of: wd) { Array($0) } + [mask, 0, len].flatMap { field in withUnsafeBytes(of: field) { Array($0) } }
}
