import SystemPackage

/// The one error type of the drivers module. Every case names the tool involved; a failed tool
/// run keeps its status and the tail of what it said, so the message can be shown as is.
public enum DriverError: Error, CustomStringConvertible, Sendable {
    /// No executable called `name` was found; `searched` lists the places looked at.
    case toolNotFound(name: String, searched: [String])
    /// The executable at `path` could not be started (ENOENT, EACCES, ENOEXEC, ...).
    case launchFailed(tool: String, path: String, detail: String)
    /// The tool ran and failed. `stderrTail` holds its last lines of diagnostics (for runc: the
    /// error entries of its log file when there were any, otherwise stderr or stdout).
    case toolFailed(tool: String, arguments: [String], status: ToolStatus, stderrTail: String)
    /// The tool succeeded but printed something this module cannot interpret.
    case unexpectedOutput(tool: String, detail: String)
    /// The tool printed more than `limit` bytes on stdout or stderr.
    case outputLimitExceeded(tool: String, limit: Int)
    /// CRIU refused for a reason it names in its log and the user can act on (see
    /// `CRIULog.refusals`): `reason` is CRIU's line, `advice` what to do, `detail` the tool's
    /// diagnostics with the CRIU log excerpt.
    case criuRefused(tool: String, arguments: [String], status: ToolStatus, reason: String, advice: String, detail: String)
    /// The tool had not ended after `limit`; it and its process group were killed.
    case timedOut(tool: String, arguments: [String], limit: Duration)
    /// A CNI plugin answered with an error (or exited non-zero): its `code`, `msg`, `details`.
    case cniPluginFailed(CNIPluginFailure)
    /// A CNI configuration file that is not a valid network configuration (list).
    case cniConfigInvalid(path: String, detail: String)
    /// No configuration in `directory` has this network name; `unreadable` lists files skipped.
    case cniNetworkNotFound(name: String, directory: String, unreadable: [String])
    /// A file the driver manages itself (a temporary runc log, /dev/null) could not be used.
    case fileFailed(operation: String, path: String, errno: Errno)
    /// The tool cannot do what the caller asked for (says what and the way that works).
    case unsupported(tool: String, what: String)

    public var description: String {
        switch self {
        case .toolNotFound(let name, let searched):
            let places = searched.isEmpty ? "nowhere (empty search path)" : searched.joined(separator: ":")
            return "\(name) not found: searched \(places)"
        case .launchFailed(let tool, let path, let detail):
            return "cannot start \(tool) at \(path): \(detail)"
        case .toolFailed(let tool, let arguments, let status, let stderrTail):
            let verb = DriverError.verb(in: arguments).map { " \($0)" } ?? ""
            // runc prefixes its own message with "runc create failed: "; say it once.
            let echoed = "\(tool)\(verb) failed: "
            let trimmed = stderrTail.hasPrefix(echoed) ? String(stderrTail.dropFirst(echoed.count)) : stderrTail
            let tail = trimmed.isEmpty ? "(no diagnostic output)" : trimmed
            let command = ([tool] + arguments).joined(separator: " ")
            return "\(tool)\(verb) failed (\(status)): \(tail)\n  command: \(command)"
        case .criuRefused(let tool, let arguments, let status, let reason, let advice, let detail):
            let verb = DriverError.verb(in: arguments).map { " \($0)" } ?? ""
            let command = ([tool] + arguments).joined(separator: " ")
            return "\(tool)\(verb) refused by CRIU (\(status)): \(advice)\n  CRIU says: \(reason)\n\(detail)\n  command: \(command)"
        case .unexpectedOutput(let tool, let detail):
            return "unexpected output from \(tool): \(detail)"
        case .timedOut(let tool, let arguments, let limit):
            let verb = DriverError.verb(in: arguments).map { " \($0)" } ?? ""
            return "\(tool)\(verb) did not end within \(limit) and was killed (with every process it started)\n  command: \(([tool] + arguments).joined(separator: " "))"
        case .outputLimitExceeded(let tool, let limit):
            return "\(tool) printed more than \(limit) bytes; output not collected"
        case .cniPluginFailed(let failure):
            return failure.description
        case .cniConfigInvalid(let path, let detail):
            return "invalid CNI configuration \(path): \(detail)"
        case .cniNetworkNotFound(let name, let directory, let unreadable):
            let skipped = unreadable.isEmpty ? "" : " (skipped: " + unreadable.joined(separator: "; ") + ")"
            return "no CNI network \"\(name)\" in \(directory)\(skipped)"
        case .fileFailed(let operation, let path, let errno):
            return "cannot \(operation) \(path): \(errno)"
        case .unsupported(let tool, let what):
            return "\(tool) cannot do this: \(what)"
        }
    }

    /// Global options of runc that take a value; skipped when looking for the verb.
    static let valueOptions: Set<String> = ["--root", "--criu", "--log", "--log-format"]

    /// The first word of `arguments` that is neither an option nor an option's value: the verb
    /// (`create`, `check`, ...). `nil` for calls like `criu --version`.
    static func verb(in arguments: [String]) -> String? {
        var skipNext = false
        for argument in arguments {
            if skipNext {
                skipNext = false
                continue
            }
            if valueOptions.contains(argument) {
                skipNext = true
                continue
            }
            if !argument.hasPrefix("-") { return argument }
        }
        return nil
    }
}

/// The last `count` non-empty lines of `text`, joined by newlines, each trimmed of trailing space.
func tailLines(_ text: String, count: Int = 10) -> String {
    let lines = text.split(whereSeparator: \.isNewline)
        .map { $0.trimmingTrailingWhitespace() }
        .filter { !$0.isEmpty }
    return lines.suffix(count).joined(separator: "\n")
}

extension Substring {
    func trimmingTrailingWhitespace() -> String {
        var end = endIndex
        while end > startIndex, self[index(before: end)].isWhitespace {
            end = index(before: end)
        }
        return String(self[startIndex..<end])
    }
}
