#if canImport(Glibc)
import Glibc
#endif
import CShims
import Synchronization
import SystemPackage

/// What a spool directory watcher reports.
public enum WatchEvent: Sendable, Equatable, CustomStringConvertible {
    /// A file is complete: closed after writing (IN_CLOSE_WRITE) or renamed in (IN_MOVED_TO).
    case fileReady(directory: String, name: String)
    /// The kernel queue overflowed (IN_Q_OVERFLOW): events were lost, the consumer must rescan.
    case overflow
    /// A watched directory was deleted, moved away or unmounted; it is no longer watched.
    case directoryGone(String)

    public var description: String {
        switch self {
        case let .fileReady(directory, name): return "ready \(directory)/\(name)"
        case .overflow: return "overflow"
        case let .directoryGone(directory): return "gone \(directory)"
        }
    }
}

/// Which names in a spool are still being written and must stay hidden.
public struct SpoolFilter: Sendable, Equatable {
    /// Hide names starting with "." (writers' temp files).
    public var hidesDotfiles: Bool
    /// Hide names ending with one of these (".part").
    public var temporarySuffixes: [String]

    public init(hidesDotfiles: Bool = true, temporarySuffixes: [String] = [".part"]) {
        self.hidesDotfiles = hidesDotfiles
        self.temporarySuffixes = temporarySuffixes
    }

    public static let `default` = SpoolFilter()

    /// Temp names of atomic writers: crpod's own (`NAME.part-<hex>` from an export,
    /// `NAME.tmp-<pid>`) and rsync-style ones, anywhere in the name.
    public static let temporaryInfixes = [".part-", ".tmp-", ".partial"]

    public func isReady(_ name: String) -> Bool {
        guard !name.isEmpty, !(hidesDotfiles && name.hasPrefix(".")) else { return false }
        if Self.temporaryInfixes.contains(where: { name.contains($0) }) { return false }
        return !temporarySuffixes.contains { name.hasSuffix($0) }
    }
}

/// One event as the kernel wrote it (header fields plus the NUL-trimmed name).
struct RawInotifyEvent: Equatable {
    var wd: Int32
    var mask: UInt32
    var name: String

    /// Splits a buffer filled by read(2) on an inotify fd. Names are bounded by `len` and by the
    /// buffer end, and cut at the first NUL (the kernel pads them with NULs).
    static func decode(_ raw: UnsafeRawBufferPointer, headerSize: Int = crpod_inotify_event_header_size()) -> [RawInotifyEvent] {
        var events: [RawInotifyEvent] = []
        var offset = 0
        while offset + headerSize <= raw.count {
            let header = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
            let nameStart = offset + headerSize
            let nameEnd = min(nameStart + Int(header.len), raw.count)
            let name = String(decoding: raw[nameStart..<nameEnd].prefix { $0 != 0 }, as: UTF8.self)
            events.append(RawInotifyEvent(wd: header.wd, mask: header.mask, name: name))
            offset = nameStart + Int(header.len)
        }
        return events
    }
}

/// Watch descriptors → directories, and the rules turning kernel events into `WatchEvent`s.
/// Pure: the loop thread owns one and asks it what each event means.
struct WatchTable {
    /// IN_Q_OVERFLOW and IN_IGNORED are always delivered; IN_ONLYDIR makes a non-directory fail.
    static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
    private static let gone = UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)
    private static let ready = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO)

    var directories: [Int32: String]
    let filter: SpoolFilter

    /// The event to deliver, if any; a directory is reported gone once and then forgotten.
    mutating func translate(_ event: RawInotifyEvent) -> WatchEvent? {
        if event.mask & UInt32(IN_Q_OVERFLOW) != 0 { return .overflow }
        guard let directory = directories[event.wd] else { return nil }
        if event.mask & Self.gone != 0 {
            directories[event.wd] = nil
            return .directoryGone(directory)
        }
        guard event.mask & UInt32(IN_ISDIR) == 0, event.mask & Self.ready != 0, filter.isReady(event.name) else { return nil }
        return .fileReady(directory: directory, name: event.name)
    }
}

/// The fds and the read loop. After `start`, only the loop thread touches `table`; the fds are
/// closed by `DirectoryWatcher.stop()` after it has joined that thread.
private final class WatchLoop: @unchecked Sendable {
    let inotifyFD: Int32
    let wakeRead: Int32
    let wakeWrite: Int32
    let continuation: AsyncStream<WatchEvent>.Continuation
    var table: WatchTable

    private init(inotifyFD: Int32, wake: (Int32, Int32), table: WatchTable, continuation: AsyncStream<WatchEvent>.Continuation) {
        self.inotifyFD = inotifyFD
        (wakeRead, wakeWrite) = wake
        self.table = table
        self.continuation = continuation
    }

    /// inotify_init1 + one watch per directory + a socketpair for the stop wake-up (Glibc hides
    /// pipe2 and eventfd; socketpair takes SOCK_CLOEXEC atomically). Closes what it opened on error.
    static func open(
        directories: [String], filter: SpoolFilter, continuation: AsyncStream<WatchEvent>.Continuation
    ) throws(LinuxError) -> WatchLoop {
        let fd = try sysCall("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }
        var pair: [Int32] = [-1, -1]
        do {
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            try sysCall("socketpair (watcher wake-up)") { socketpair(AF_UNIX, type, 0, &pair) }
            var table = WatchTable(directories: [:], filter: filter)
            for directory in directories {
                let wd = try sysCall("inotify_add_watch", path: directory) { inotify_add_watch(fd, directory, WatchTable.mask) }
                table.directories[wd] = directory
            }
            return WatchLoop(inotifyFD: fd, wake: (pair[0], pair[1]), table: table, continuation: continuation)
        } catch {
            for opened in [fd] + pair where opened >= 0 { Glibc.close(opened) }
            throw error
        }
    }

    /// The thread body: poll inotify + wake socket; returns when woken, finishes the stream on a
    /// fatal error (the consumer sees the end of the stream).
    func run() {
        let size = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        var fds = [pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            if poll(&fds, 2, -1) < 0 {
                if Glibc.errno == EINTR { continue }
                break
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0, drain(buffer) else { break }
        }
        continuation.finish()
    }

    /// Reads until EAGAIN and delivers what it read; false on a read error.
    private func drain(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        while true {
            let count = read(inotifyFD, buffer.baseAddress, buffer.count)
            if count < 0 {
                let code = Glibc.errno
                if code == EINTR { continue }
                return code == EAGAIN
            }
            for raw in RawInotifyEvent.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) {
                if raw.mask & UInt32(IN_MOVE_SELF) != 0 { inotify_rm_watch(inotifyFD, raw.wd) }
                if let event = table.translate(raw) { continuation.yield(event) }
            }
        }
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // EAGAIN means a wake-up is already pending.
    }

    func close() {
        for fd in [inotifyFD, wakeRead, wakeWrite] { Glibc.close(fd) }
        continuation.finish()
    }
}

/// Watches spool directories with inotify and delivers complete files through `events`.
///
/// The blocking wait runs on a dedicated pthread (never the cooperative pool). Watches are in
/// place when `init` returns, so a consumer can scan first and then read `events` without a gap.
/// `events` is unbounded in memory; the kernel queue bounds what is pending and reports
/// `.overflow` when it fills. `events` has one consumer.
public final class DirectoryWatcher: Sendable {
    public let directories: [String]
    public let events: AsyncStream<WatchEvent>
    private let loop: WatchLoop
    /// The loop thread while running; nil once stopped.
    private let thread: Mutex<pthread_t?>

    public init(directories: [String], filter: SpoolFilter = .default) throws(LinuxError) {
        let (stream, continuation) = AsyncStream.makeStream(of: WatchEvent.self)
        let loop = try WatchLoop.open(directories: directories, filter: filter, continuation: continuation)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(loop).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let loop = Unmanaged<WatchLoop>.fromOpaque(context!).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<WatchLoop>.fromOpaque(context).release()
            loop.close()
            throw LinuxError.syscall(operation: "pthread_create (inotify loop)", path: nil, errno: Errno(rawValue: rc))
        }
        self.directories = directories
        self.events = stream
        self.loop = loop
        self.thread = Mutex(thread)
    }

    public convenience init(directory: String, filter: SpoolFilter = .default) throws(LinuxError) {
        try self.init(directories: [directory], filter: filter)
    }

    /// Wakes the loop thread, joins it, closes the fds and finishes `events`. Returns once the
    /// thread has exited (a prompt wait: the thread only blocks in poll). Idempotent.
    public func stop() {
        thread.withLock { running in
            guard let thread = running else { return }
            running = nil
            loop.wake()
            pthread_join(thread, nil)
            loop.close()
        }
    }

    deinit { stop() }

    /// The ready files already in `directory` (regular files the filter accepts), sorted: for
    /// start-up and after `.overflow`.
    public static func scan(_ directory: String, filter: SpoolFilter = .default) throws(LinuxError) -> [String] {
        try Files.listDirectory(directory).filter { name in
            var info = stat()
            return filter.isReady(name) && lstat("\(directory)/\(name)", &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        }
    }
}
