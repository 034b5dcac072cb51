import Logging

/// Wraps a line-oriented log handler (stderr) so no message or metadata value can break a
/// log line: control characters (newline, carriage return, escape, …) and the Unicode line
/// separators are written as `\n`, `\r`, `\t` or `\u{XX}`. A spool file named
/// "x\n<3>forged" logs as one line. (Invalid UTF-8 in a name is already U+FFFD by then.)
public struct EscapingLogHandler: LogHandler {
    var inner: any LogHandler

    public init(_ inner: any LogHandler) { self.inner = inner }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var escaped = event
        escaped.message = "\(Self.escape("\(event.message)"))"
        escaped.metadata = event.metadata.map { $0.mapValues(Self.escape) }
        inner.log(event: escaped)
    }

    static func escape(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case let .string(text): return .string(escape(text))
        case let .stringConvertible(item): return .string(escape(item.description))
        case let .array(items): return .array(items.map(escape))
        case let .dictionary(items): return .dictionary(items.mapValues(escape))
        }
    }

    /// `text` with every control character and line separator escaped.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where needsEscape(scalar): out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}"
    }
}
