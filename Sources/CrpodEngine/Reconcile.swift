import CrpodLinux
import Logging

/// What reconciling found: one line per interrupted operation that was undone.
public struct ReconcileReport: Sendable, Codable, Equatable {
    public var undone: [String] = []
    public var isEmpty: Bool { undone.isEmpty }
}

extension Engine {
    /// Runs `body` holding the state lock, after undoing whatever an earlier crpod (CLI or
    /// daemon) killed mid-operation left behind.
    func locked<T>(_ body: () async throws -> T) async throws -> T {
        try await store.withLock {
            await reconcileHoldingLock()
            return try await body()
        }
    }

    /// For read-only commands (ps, pod ls): when an operation's journal is present, waits for
    /// the lock — the operation finishes, or it was killed and is rolled back — so what they
    /// show agrees with the host.
    public func reconcileIfInterrupted() async {
        guard !journal.leftovers().isEmpty else { return }
        _ = try? await locked {}
    }

    /// Takes the lock and reconciles (the daemon does this at start-up).
    public func reconcile() async throws -> ReconcileReport {
        try await store.withLock { await reconcileHoldingLock() }
    }

    /// Every journal entry whose lease is free belongs to an operation that died (a live one
    /// holds its lease, also while it works outside the state lock): its steps are undone in
    /// reverse.
    @discardableResult
    func reconcileHoldingLock() async -> ReconcileReport {
        var report = ReconcileReport()
        defer { journal.removeStaleLeases() }
        for (id, entry) in journal.leftovers() {
            guard let entry else {
                logger.error("unreadable journal entry removed", metadata: ["entry": "\(journal.path(id))"])
                journal.remove(id)
                continue
            }
            for step in (entry.steps + entry.temporaries).reversed() { await undo(step) }
            journal.remove(id)
            let line = "\(entry.operation) (pid \(entry.pid), started \(entry.started)): undid \(entry.steps.count + entry.temporaries.count) steps"
            logger.warning("interrupted operation rolled back", metadata: ["operation": "\(line)"])
            report.undone.append(line)
        }
        return report
    }
}
