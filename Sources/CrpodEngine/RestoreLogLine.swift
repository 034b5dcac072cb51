import Logging

/// The one log line the daemon writes for each restore it attempts (spool, API) and for each
/// item or request it refuses: what was restored, where it came from, and the result with its
/// duration — or the refusal's stable code and reason. Pure text, so it is tested as a table.
///
/// A success is `info`; a refusal or failure is `warning`, so both show at the daemon's
/// default level (info) and a failure still shows at `--log-level warning`.
public struct RestoreLogLine: Sendable, Equatable {
    public var level: Logger.Level
    public var message: String

    /// `source` says where the archive came from ("spool /srv/drop", "API request from uid 0 pid 12").
    public static func restored(_ archive: String, source: String, pod: String?, name: String, id: String, milliseconds: Int) -> RestoreLogLine {
        let into = pod.map { "into pod \($0) " } ?? ""
        return RestoreLogLine(level: .info, message: "restored \(archive) (\(source)) \(into)as \(name) (\(id.prefix(12))) in \(milliseconds) ms")
    }

    /// A restore that was asked for and did not happen: refused (planner, policy, image rule,
    /// a bad archive or path) or failed; `code` is the error's stable code.
    public static func failed(_ archive: String, source: String, code: String, reason: String, milliseconds: Int? = nil) -> RestoreLogLine {
        let after = milliseconds.map { " after \($0) ms" } ?? ""
        return RestoreLogLine(level: .warning, message: "not restored: \(archive) (\(source))\(after) [\(code)]: \(reason)")
    }

    public static func failed(_ archive: String, source: String, error: any Error, milliseconds: Int? = nil) -> RestoreLogLine {
        failed(archive, source: source, code: FailureClass.of(error).code, reason: "\(error)", milliseconds: milliseconds)
    }

    /// A spool item that was never opened or restored (a FIFO, a symlink, a bad sidecar, …).
    public static func refusedItem(_ path: String, source: String, error: any Error, movedTo: String) -> RestoreLogLine {
        RestoreLogLine(level: .warning, message: "refused \(path) (\(source)) [\(FailureClass.of(error).code)], moved to \(movedTo): \(error)")
    }

    /// The same archive (by SHA-256) was restored before: not restored again.
    public static func duplicate(_ archive: String, source: String, of original: String) -> RestoreLogLine {
        RestoreLogLine(level: .info, message: "not restored \(archive) (\(source)): the same archive (SHA-256) as \(original), restored before")
    }

    public func write(to logger: Logger, metadata: Logger.Metadata = [:]) {
        logger.log(level: level, "\(message)", metadata: metadata)
    }
}
