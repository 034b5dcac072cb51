import CrpodEngine
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A job as the API shows it.
public struct JobView: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case queued, running, succeeded, failed }
    public var id: String
    public var kind: String
    public var description: String
    public var state: State
    public var progress: String?
    public var error: String?
    /// The failure's stable machine code (as in error answers), from the error's type.
    public var errorCode: String?
    /// The operation's answer (JSON) once it succeeded.
    public var result: String?
    public var created: String
    public var finished: String?
}

public enum JobError: ClassifiedError, CustomStringConvertible, Equatable {
    case queueFull(limit: Int)
    case notFound(String)
    /// A failed job whose error is no longer kept (it should not happen; 500).
    case failedWithoutError(String)

    public var description: String {
        switch self {
        case let .queueFull(limit): return "the job queue is full (\(limit) waiting): try again later"
        case let .notFound(id): return "no job with id \(id)"
        case let .failedWithoutError(id): return "job \(id) failed"
        }
    }

    public var failureClass: FailureClass {
        switch self {
        case .queueFull: return FailureClass(.busy, "queue_full")
        case .notFound: return FailureClass(.notFound, "job_not_found")
        case .failedWithoutError: return .internalFailure
        }
    }
}

/// Runs restores and checkpoints for the API and the spool: at most `maxConcurrent` at once,
/// at most `maxQueued` waiting (more are refused), finished jobs kept for `GET /v1/jobs`.
public actor JobRegistry {
    public let maxConcurrent: Int
    public let maxQueued: Int
    private var jobs: [String: JobView] = [:]
    /// The typed error of each failed job: what the API's status and code come from.
    private var failures: [String: any Error] = [:]
    private var order: [String] = []
    private var running = 0
    private var slotWaiters: [CheckedContinuation<Void, Never>] = []
    private var finishWaiters: [String: [CheckedContinuation<JobView, Never>]] = [:]
    private var nextNumber = 1
    private let keepFinished = 500

    public init(maxConcurrent: Int, maxQueued: Int) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxQueued = max(0, maxQueued)
    }

    public var inFlight: Int { running + slotWaiters.count }
    public var queued: Int { slotWaiters.count }

    /// Starts `work` when a slot is free; its result is encoded to JSON into the job.
    public func submit<T: Encodable & Sendable>(kind: String, description: String,
                                                _ work: @escaping @Sendable (JobProgress) async throws -> T) throws -> String {
        if running >= maxConcurrent && slotWaiters.count >= maxQueued { throw JobError.queueFull(limit: maxQueued) }
        let id = "job-\(nextNumber)"
        nextNumber += 1
        jobs[id] = JobView(id: id, kind: kind, description: description, state: .queued, created: Self.now())
        order.append(id)
        trimFinished()
        let progress = JobProgress(registry: self, id: id)
        Task { await self.execute(id: id, progress: progress, work) }
        return id
    }

    public func list() -> [JobView] { order.compactMap { jobs[$0] } }

    public func job(_ id: String) throws -> JobView {
        guard let job = jobs[id] else { throw JobError.notFound(id) }
        return job
    }

    /// Waits until the job has succeeded or failed.
    public func wait(_ id: String) async throws -> JobView {
        let job = try job(id)
        if job.state == .succeeded || job.state == .failed { return job }
        return await withCheckedContinuation { finishWaiters[id, default: []].append($0) }
    }

    func setProgress(_ id: String, _ text: String) { jobs[id]?.progress = text }

    /// The error a failed job threw, as thrown (nil while it runs or when it succeeded).
    public func failure(_ id: String) -> (any Error)? { failures[id] }

    private func execute<T: Encodable & Sendable>(id: String, progress: JobProgress, _ work: @Sendable (JobProgress) async throws -> T) async {
        await acquireSlot()
        jobs[id]?.state = .running
        do {
            let value = try await work(progress)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            jobs[id]?.result = String(decoding: try encoder.encode(value), as: UTF8.self)
            jobs[id]?.state = .succeeded
        } catch {
            failures[id] = error
            jobs[id]?.error = "\(error)"
            jobs[id]?.errorCode = FailureClass.of(error).code
            jobs[id]?.state = .failed
        }
        jobs[id]?.finished = Self.now()
        releaseSlot()
        if let job = jobs[id] { for waiter in finishWaiters.removeValue(forKey: id) ?? [] { waiter.resume(returning: job) } }
    }

    private func acquireSlot() async {
        if running < maxConcurrent { running += 1; return }
        await withCheckedContinuation { slotWaiters.append($0) }
    }

    /// Hands the slot straight to the next waiter, or frees it.
    private func releaseSlot() {
        if slotWaiters.isEmpty { running -= 1 } else { slotWaiters.removeFirst().resume() }
    }

    private func trimFinished() {
        while order.count > keepFinished, let index = order.firstIndex(where: { jobs[$0]?.finished != nil }) {
            let id = order.remove(at: index)
            jobs.removeValue(forKey: id)
            failures.removeValue(forKey: id)
        }
    }

    static func now() -> String { Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
}

/// Lets a running job report what it is doing.
public struct JobProgress: Sendable {
    let registry: JobRegistry?
    let id: String
    public static let none = JobProgress(registry: nil, id: "")
    public func report(_ text: String) async { await registry?.setProgress(id, text) }
}

extension JobRegistry {
    /// Queues a restore as a job that counts in the metrics (result and duration).
    /// `finished` hears how each ended and how long it took (the API logs it).
    public func submitRestore(_ request: RestoreRequest, kind: String, metrics: Metrics,
                              finished: @escaping @Sendable (Result<RestoreOutcome, any Error>, Duration) -> Void = { _, _ in },
                              _ restore: @escaping @Sendable (RestoreRequest) async throws -> RestoreOutcome) throws -> String {
        try submit(kind: kind, description: request.importPath ?? request.container ?? "?") { progress in
            await progress.report("restoring")
            let started = ContinuousClock.now
            do {
                let outcome = try await restore(request)
                metrics.restoreFinished(result: "success", seconds: APIRouter.seconds(since: started))
                finished(.success(outcome), ContinuousClock.now - started)
                return outcome
            } catch {
                metrics.restoreFinished(result: "failure", seconds: APIRouter.seconds(since: started))
                finished(.failure(error), ContinuousClock.now - started)
                throw error
            }
        }
    }
}
