import Synchronization

/// The daemon's Prometheus metrics, rendered in the text exposition format (version 0.0.4).
public final class Metrics: Sendable {
    /// Restore duration histogram bounds, seconds.
    public static let durationBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    private struct State {
        var restores: [String: UInt64] = [:]
        var checkpoints: [String: UInt64] = [:]
        var bucketCounts = [UInt64](repeating: 0, count: Metrics.durationBuckets.count)
        var durationSum = 0.0
        var durationCount: UInt64 = 0
        var spoolHandled: [String: UInt64] = [:]
        var requests: [Int: UInt64] = [:]
        var refusedPeers: UInt64 = 0
    }
    private let state = Mutex(State())

    public init() {}

    public func restoreFinished(result: String, seconds: Double) {
        state.withLock { state in
            state.restores[result, default: 0] += 1
            state.durationSum += seconds
            state.durationCount += 1
            for (index, bound) in Self.durationBuckets.enumerated() where seconds <= bound { state.bucketCounts[index] += 1 }
        }
    }

    public func checkpointFinished(result: String) { state.withLock { $0.checkpoints[result, default: 0] += 1 } }
    public func spoolHandled(result: String) { state.withLock { $0.spoolHandled[result, default: 0] += 1 } }
    public func request(status: Int) { state.withLock { $0.requests[status, default: 0] += 1 } }
    public func peerRefused() { state.withLock { $0.refusedPeers += 1 } }

    /// The exposition text; `jobsInFlight` and `spoolDepth` are read live by the caller.
    public func render(jobsInFlight: Int, spoolDepth: Int) -> String {
        let snapshot = state.withLock { $0 }
        var lines: [String] = []
        lines += Self.counter("crpod_restores_total", "Restores by result.", label: "result", snapshot.restores, defaults: ["success", "failure"])
        lines += Self.counter("crpod_checkpoints_total", "Checkpoints by result.", label: "result", snapshot.checkpoints, defaults: ["success", "failure"])
        lines += Self.counter("crpod_spool_archives_total", "Spooled archives handled, by result.", label: "result", snapshot.spoolHandled, defaults: ["done", "failed", "duplicate"])
        lines += Self.counter("crpod_api_requests_total", "API requests by HTTP status.", label: "status",
                              Dictionary(uniqueKeysWithValues: snapshot.requests.map { ("\($0.key)", $0.value) }), defaults: [])
        lines += ["# HELP crpod_api_refused_peers_total Connections refused by peer credentials.", "# TYPE crpod_api_refused_peers_total counter",
                  "crpod_api_refused_peers_total \(snapshot.refusedPeers)"]
        lines += ["# HELP crpod_restore_duration_seconds Restore duration.", "# TYPE crpod_restore_duration_seconds histogram"]
        for (index, bound) in Self.durationBuckets.enumerated() {
            lines.append("crpod_restore_duration_seconds_bucket{le=\"\(Self.number(bound))\"} \(snapshot.bucketCounts[index])")
        }
        lines += ["crpod_restore_duration_seconds_bucket{le=\"+Inf\"} \(snapshot.durationCount)",
                  "crpod_restore_duration_seconds_sum \(Self.number(snapshot.durationSum))",
                  "crpod_restore_duration_seconds_count \(snapshot.durationCount)"]
        lines += ["# HELP crpod_jobs_in_flight Jobs running or queued.", "# TYPE crpod_jobs_in_flight gauge", "crpod_jobs_in_flight \(jobsInFlight)"]
        lines += ["# HELP crpod_spool_depth Archives waiting in spool directories.", "# TYPE crpod_spool_depth gauge", "crpod_spool_depth \(spoolDepth)"]
        return lines.joined(separator: "\n") + "\n"
    }

    static func counter(_ name: String, _ help: String, label: String, _ values: [String: UInt64], defaults: [String]) -> [String] {
        var all = values
        for key in defaults where all[key] == nil { all[key] = 0 }
        return ["# HELP \(name) \(help)", "# TYPE \(name) counter"] + all.keys.sorted().map { "\(name){\(label)=\"\($0)\"} \(all[$0] ?? 0)" }
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
