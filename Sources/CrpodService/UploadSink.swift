#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// An upload streamed to a file without blocking the event loop: each chunk is written, in
/// order, on NIO's blocking-I/O thread pool; reading from the socket pauses while
/// `maxQueued` chunks wait for the disk. The fd is closed only after the last write settled.
/// Event-loop bound (not Sendable): its owner is one channel handler.
final class UploadSink {
    let path: String
    private let fd: Int32
    private let eventLoop: any EventLoop
    private var tail: EventLoopFuture<Void>
    private var queued = 0
    static let maxQueued = 4

    init(fd: Int32, path: String, eventLoop: any EventLoop) {
        self.fd = fd
        self.path = path
        self.eventLoop = eventLoop
        tail = eventLoop.makeSucceededVoidFuture()
    }

    /// Whether reading should pause (too many chunks queued).
    var isBacklogged: Bool { queued >= Self.maxQueued }

    /// Queues `buffer`; `settled` runs on the event loop after its write, with the error if it failed.
    func write(_ buffer: ByteBuffer, settled: @escaping (UploadWriteError?) -> Void) {
        queued += 1
        let fd = self.fd, path = self.path, eventLoop = self.eventLoop
        tail = tail.flatMap {
            NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { try Self.writeAll(fd, buffer, path: path) }
        }
        tail.assumeIsolated().whenComplete { result in
            self.queued -= 1
            if case let .failure(error) = result { return settled(error as? UploadWriteError ?? UploadWriteError(path: path, errno: EIO)) }
            settled(nil)
        }
    }

    /// Closes the file once every write settled; then `done` runs with the path, or with nil
    /// when a write failed (the file is removed then).
    func finish(_ done: @escaping (String?) -> Void) {
        let fd = self.fd, path = self.path
        tail.assumeIsolated().whenComplete { result in
            close(fd)
            if case .failure = result { unlink(path); return done(nil) }
            done(path)
        }
    }

    /// Closes and removes the file once in-flight writes settled; the future says when.
    @discardableResult
    func discard() -> EventLoopFuture<Void> {
        let fd = self.fd, path = self.path
        return tail.recover { _ in }.map {
            close(fd)
            unlink(path)
        }
    }

    static func writeAll(_ fd: Int32, _ buffer: ByteBuffer, path: String) throws {
        try buffer.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { throw UploadWriteError(path: path, errno: n < 0 ? errno : ENOSPC) }
                offset += n
            }
        }
    }
}

/// A chunk of an upload could not be written.
struct UploadWriteError: Error, CustomStringConvertible {
    var path: String
    var errno: Int32
    var description: String { "cannot write the upload to \(path): \(String(cString: strerror(errno)))" }
}
