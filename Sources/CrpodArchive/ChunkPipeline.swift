#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` whole to `fd`; `path` is for messages. A seam for tests.
typealias ChunkWriter = (Int32, UnsafeRawBufferPointer, String) throws(ArchiveError) -> Void

/// Overlaps decompression and writing with hashing for one large member: the extracting
/// thread fills a buffer from libarchive, writes it and hands it over; one worker pthread (not
/// the Swift cooperative pool) feeds the buffers to SHA-256 in order and returns each for
/// reuse. At most `buffers.count` chunks are in flight, so memory stays bounded. Hashing cannot
/// throw (a digest failure surfaces at `finalize`), so every error stays on the caller's thread.
///
/// `finish` must be called exactly once on every path: it closes the queue and joins the
/// worker, so no thread outlives the member.
final class ChunkPipeline: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    let buffers: [UnsafeMutableRawBufferPointer]
    private let hasher: SHA256Hasher
    private let onStart: (@Sendable () -> Void)?
    // Guarded by `mutex`.
    private var free: [Int]
    private var full: [(index: Int, count: Int)] = []
    private var closed = false
    private var thread: pthread_t?

    /// Starts the worker; nil when no thread could be created (the caller streams inline).
    /// `onStart` runs on the worker first (a seam for tests).
    static func start(
        buffers: [UnsafeMutableRawBufferPointer], hasher: SHA256Hasher, onStart: (@Sendable () -> Void)? = nil
    ) -> ChunkPipeline? {
        let pipeline = ChunkPipeline(buffers: buffers, hasher: hasher, onStart: onStart)
        let context = Unmanaged.passRetained(pipeline).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            let pipeline = Unmanaged<ChunkPipeline>.fromOpaque(context!).takeRetainedValue()
            pipeline.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<ChunkPipeline>.fromOpaque(context).release()
            return nil
        }
        pipeline.thread = thread
        return pipeline
    }

    private init(buffers: [UnsafeMutableRawBufferPointer], hasher: SHA256Hasher, onStart: (@Sendable () -> Void)?) {
        mutex = .allocate(capacity: 1)
        changed = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
        self.buffers = buffers
        self.hasher = hasher
        self.onStart = onStart
        free = Array(buffers.indices.reversed())
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// A free buffer's index, waiting while all are in flight.
    func acquire() -> Int {
        pthread_mutex_lock(mutex)
        while free.isEmpty { pthread_cond_wait(changed, mutex) }
        let index = free.removeLast()
        pthread_mutex_unlock(mutex)
        return index
    }

    /// Queues the first `count` bytes of buffer `index` for hashing.
    func submit(_ index: Int, count: Int) {
        pthread_mutex_lock(mutex)
        full.append((index, count))
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    /// Lets the worker hash what was queued and joins it. After this the hasher is the caller's.
    func finish() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    private func run() {
        onStart?()
        pthread_mutex_lock(mutex)
        while true {
            while full.isEmpty && !closed { pthread_cond_wait(changed, mutex) }
            if full.isEmpty { break }
            let (index, count) = full.removeFirst()
            pthread_mutex_unlock(mutex)
            hasher.update(UnsafeRawBufferPointer(rebasing: buffers[index][0..<count]))
            pthread_mutex_lock(mutex)
            free.append(index)
            pthread_cond_broadcast(changed)
        }
        pthread_mutex_unlock(mutex)
    }
}
