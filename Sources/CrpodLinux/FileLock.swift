#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import SystemPackage

/// An exclusive advisory lock (flock) on a lock file, held for the duration of `body`.
///
/// Safe for a multithreaded daemon: callers in one process queue on an async gate first (one
/// flock waiter per path at a time, FIFO), and a flock that would block waits on a Dispatch
/// thread, never on the cooperative pool (which has two threads here).
public struct FileLock: Sendable {
    public let path: String
    public init(path: String) { self.path = path }

    public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        let gate = AsyncGate.forPath(path)
        await gate.enter()
        defer { gate.leave() }
        let fd = try sysCall("open lock", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        defer { close(fd) }
        try await Self.lockExclusive(fd, path: path)
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }

    static func lockExclusive(_ fd: Int32, path: String) async throws {
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return }
        guard errno == EWOULDBLOCK else {
            throw LinuxError.syscall(operation: "flock", path: path, errno: Errno(rawValue: errno))
        }
        let result: Int32 = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var code: Int32 = 0
                repeat { code = flock(fd, LOCK_EX) == 0 ? 0 : errno } while code == EINTR
                continuation.resume(returning: code)
            }
        }
        if result != 0 { throw LinuxError.syscall(operation: "flock", path: path, errno: Errno(rawValue: result)) }
    }
}

/// A FIFO async mutex (no thread blocks while waiting), one per lock path in this process.
final class AsyncGate: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())
    private static let gates = Mutex([String: AsyncGate]())

    static func forPath(_ path: String) -> AsyncGate {
        gates.withLock { gates in
            if let gate = gates[path] { return gate }
            let gate = AsyncGate()
            gates[path] = gate
            return gate
        }
    }

    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state in
                if state.held { state.waiters.append(continuation); return false }
                state.held = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    /// Hands the gate to the next waiter (it stays held) or frees it.
    func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty { state.held = false; return nil }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
