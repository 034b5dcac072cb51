#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// What runc says about its failures. Observed with runc 1.1.5: with `--log F --log-format json`
/// a fatal error is written BOTH as a JSON line `{"level":"error","msg":"runc create failed: …"}`
/// appended to F AND as plain text on stderr; without `--log`, logrus text lines
/// (`time="…" level=error msg="…"`) go to stderr. `runc create` hands its stdio to the container,
/// so there the log file is the only place the error can be read back from.
enum RuncLog {
    private struct Entry: Decodable {
        var level: String?
        var msg: String?
    }

    /// The levels whose messages explain a failure.
    static let failureLevels: Set<String> = ["error", "fatal", "panic"]

    /// The current size of `path`, 0 when it does not exist: read from here after a call to see
    /// only that call's entries (runc appends).
    static func size(of path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }

    /// The text of `path` from `offset`, at most the last `limit` bytes of it; "" if unreadable
    /// (a missing log must not hide the tool's own failure).
    static func read(_ path: String, from offset: Int64, limit: Int = 256 * 1024) -> String {
        guard let fd = try? FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) else { return "" }
        defer { try? fd.close() }
        let end = size(of: path)
        let start = max(offset, end - Int64(limit))
        guard end > start, (try? fd.seek(offset: start, from: .start)) != nil else { return "" }
        var buffer = [UInt8](repeating: 0, count: Int(end - start))
        let count = (try? buffer.withUnsafeMutableBytes { try fd.read(into: $0) }) ?? 0
        return String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    /// The `msg` of every JSON line whose level is error, fatal or panic.
    static func errorMessages(jsonLines text: String) -> [String] {
        let decoder = JSONDecoder()
        return text.split(whereSeparator: \.isNewline).compactMap { line in
            guard let entry = try? decoder.decode(Entry.self, from: Data(line.utf8)),
                let level = entry.level, failureLevels.contains(level), let message = entry.msg
            else { return nil }
            return message
        }
    }

    /// `time="…" level=error msg="container does not exist"` → `container does not exist`;
    /// any other line is returned unchanged.
    static func plainMessage(_ line: Substring) -> String {
        guard line.contains("level="), let range = line.firstRange(of: "msg=\"") else { return String(line) }
        var message = ""
        var escaped = false
        for character in line[range.upperBound...] {
            if escaped {
                message.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                return message
            } else {
                message.append(character)
            }
        }
        return String(line)
    }

    /// The message for a failed call: the error entries the call added to the log file, or else
    /// the last lines of stderr (logrus text reduced to its messages), or else of stdout.
    static func diagnostics(logMessages: [String], result: ToolResult, lines: Int = 10) -> String {
        if !logMessages.isEmpty {
            return logMessages.suffix(lines).joined(separator: "\n")
        }
        let stderr = result.stderr.split(whereSeparator: \.isNewline).map(plainMessage)
        let fromStderr = tailLines(stderr.joined(separator: "\n"), count: lines)
        return fromStderr.isEmpty ? tailLines(result.stdout, count: lines) : fromStderr
    }
}
