#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SystemPackage

/// Set when the task waiting on a blocking job is cancelled; long loops (hashing a large file)
/// check it between chunks and give up.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
    public func cancel() { flag.store(true, ordering: .relaxed) }
}

/// Runs blocking work (opening, hashing, scanning or extracting a file that may be huge or
/// slow) on a thread of its own, so it never occupies a thread of the cooperative pool or an
/// event loop: one bad item stalls nothing else.
public enum BlockingThread {
    /// Runs `body` on a new detached thread and returns its result. Cancelling the calling task
    /// sets the flag `body` receives; `body` decides when to stop.
    public static func run<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (CancellationFlag) throws -> T
    ) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let job = Job { continuation.resume(with: Result { try body(flag) }) }
                do throws(LinuxError) { try job.start(operation) } catch { continuation.resume(throwing: error) }
            }
        } onCancel: {
            flag.cancel()
        }
    }

    /// One thread's work; the thread owns the retained reference until it has run.
    private final class Job: Sendable {
        let work: @Sendable () -> Void
        init(_ work: @escaping @Sendable () -> Void) { self.work = work }

        func start(_ operation: String) throws(LinuxError) {
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            defer { pthread_attr_destroy(&attributes) }
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let rc = pthread_create(&thread, &attributes, { context in
                let job = Unmanaged<Job>.fromOpaque(context!).takeRetainedValue()
                job.work()
                return nil
            }, context)
            guard rc == 0 else {
                Unmanaged<Job>.fromOpaque(context).release()
                throw LinuxError.syscall(operation: "pthread_create (\(operation))", path: nil, errno: Errno(rawValue: rc))
            }
        }
    }
}
