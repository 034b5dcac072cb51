import CrpodLinux
import Logging

/// swift-log into journald with structured fields (used when JOURNAL_STREAM says stderr is the
/// journal): MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=crpod, CRPOD_LABEL, and each metadata key
/// as CRPOD_<KEY>.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("MESSAGE", "\(event.message)"), ("PRIORITY", "\(Self.priority(event.level))"),
            ("SYSLOG_IDENTIFIER", "crpod"), ("CRPOD_LABEL", label),
            ("CODE_FILE", event.file), ("CODE_LINE", "\(event.line)"), ("CODE_FUNC", event.function),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            let name = "CRPOD_" + String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
            if Systemd.isValidJournalFieldName(name) { fields.append((name, "\(value)")) }
        }
        try? Systemd.sendJournal(fields: fields)
    }

    /// syslog priorities (journald's PRIORITY=).
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}
