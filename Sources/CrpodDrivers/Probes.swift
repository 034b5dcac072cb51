/// Finds CRIU and asks it what it is and whether this host can checkpoint.
public struct CRIUProbe: Sendable {
    public static let sourceFlag = "--criu flag"
    public static let sourceConfiguration = "configuration"
    public static let sourcePath = "PATH"

    public let runner: ToolRunner

    public init(runner: ToolRunner = ToolRunner()) {
        self.runner = runner
    }

    /// Where CRIU is, and which setting said so. Order: the `--criu` flag, then the
    /// configuration file, then `criu` on `searchPath`. A flag or configured value that names
    /// nothing executable yields `nil` instead of silently falling back to the next source:
    /// the user asked for that CRIU. Values without `/` are looked up on `searchPath`.
    public static func locate(explicit: String?, configured: String?, searchPath: String)
        -> (path: String, source: String)?
    {
        if let explicit, !explicit.isEmpty {
            return ToolRunner.which(explicit, searchPath: searchPath).map { ($0, sourceFlag) }
        }
        if let configured, !configured.isEmpty {
            return ToolRunner.which(configured, searchPath: searchPath).map { ($0, sourceConfiguration) }
        }
        return ToolRunner.which("criu", searchPath: searchPath).map { ($0, sourcePath) }
    }

    /// `locate`, throwing `DriverError.toolNotFound` with the places looked at.
    public static func require(explicit: String?, configured: String?, searchPath: String) throws
        -> (path: String, source: String)
    {
        if let found = locate(explicit: explicit, configured: configured, searchPath: searchPath) {
            return found
        }
        let wanted = [explicit, configured].compactMap { $0 }.first { !$0.isEmpty } ?? "criu"
        let searched = wanted.contains("/") ? [wanted] : searchPath.split(separator: ":").map(String.init)
        throw DriverError.toolNotFound(name: wanted, searched: searched)
    }

    /// Runs `criu --version` and parses it.
    public func version(at path: String) async throws -> CRIUVersion {
        let result = try await runner.run(path, ["--version"])
        guard result.succeeded else {
            throw DriverError.toolFailed(
                tool: ToolRunner.toolName(path), arguments: ["--version"],
                status: result.status, stderrTail: result.diagnosticTail())
        }
        guard let version = CRIUVersion.parse(result.stdout) else {
            let shown = tailLines(result.stdout, count: 3)
            throw DriverError.unexpectedOutput(
                tool: ToolRunner.toolName(path),
                detail: "`--version` printed no `Version: X.Y[.Z]` line: \(shown.isEmpty ? "(nothing)" : shown)")
        }
        return version
    }

    /// Runs `criu check`. `output` is everything it printed (or why it could not run).
    public func check(at path: String) async -> (ok: Bool, output: String) {
        await runCheck(path, ["check"])
    }

    /// Runs `criu check --feature <feature>` (for example `external_net_ns`, `mem_dirty_track`).
    public func check(feature: String, at path: String) async -> (ok: Bool, output: String) {
        await runCheck(path, ["check", "--feature", feature])
    }

    private func runCheck(_ path: String, _ arguments: [String]) async -> (ok: Bool, output: String) {
        do {
            let result = try await runner.run(path, arguments)
            return (result.succeeded, result.combinedOutput)
        } catch {
            return (false, "\(error)")
        }
    }
}

/// Whether an OCI runtime can restore a checkpoint into a pod (it needs
/// `restore --lsm-mount-context`, which is what podman probes for as well).
public enum PodRestoreSupport: Sendable, Equatable {
    case supported(evidence: String)
    case unsupported(reason: String)

    public var isSupported: Bool {
        if case .supported = self { return true }
        return false
    }
}

/// Asks an OCI runtime (runc, crun) for its version and restore features.
public struct RuntimeProbe: Sendable {
    public let runner: ToolRunner

    public init(runner: ToolRunner = ToolRunner()) {
        self.runner = runner
    }

    /// Runs `<runtime> --version` and parses its first line.
    public func version(at path: String) async throws -> RuntimeVersion {
        let result = try await runner.run(path, ["--version"])
        guard result.succeeded else {
            throw DriverError.toolFailed(
                tool: ToolRunner.toolName(path), arguments: ["--version"],
                status: result.status, stderrTail: result.diagnosticTail())
        }
        guard let version = RuntimeVersion.parse(result.stdout) else {
            let shown = tailLines(result.stdout, count: 3)
            throw DriverError.unexpectedOutput(
                tool: ToolRunner.toolName(path),
                detail: "`--version` printed no `<name> version <x>` line: \(shown.isEmpty ? "(nothing)" : shown)")
        }
        return version
    }

    /// Probes for `restore --lsm-mount-context`.
    ///
    /// Primary probe: `<runtime> restore --help` (exit 0, lists `--lsm-mount-context`). It asks
    /// the question directly and does not depend on error wording; runc 1.1.5 here lists
    /// `--lsm-mount-context value`. When the help is not conclusive (old crun has no `restore`,
    /// a runc without the flag does not list it), the fallback runs
    /// `<runtime> restore --lsm-mount-context` without its value and classifies the complaint.
    public func supportsPodRestore(at path: String) async -> PodRestoreSupport {
        do {
            let help = try await runner.run(path, ["restore", "--help"])
            if let answer = Self.classifyHelp(help) { return answer }
            let probe = try await runner.run(path, ["restore", "--lsm-mount-context"])
            return Self.classifyMissingArgument(probe)
        } catch {
            return .unsupported(reason: "cannot probe \(path): \(error)")
        }
    }

    static let flag = "--lsm-mount-context"

    /// `supported` when `restore --help` succeeded and lists the flag; `nil` = ask the fallback.
    static func classifyHelp(_ result: ToolResult) -> PodRestoreSupport? {
        guard result.succeeded, result.combinedOutput.contains(flag) else { return nil }
        return .supported(evidence: "`restore --help` lists \(flag)")
    }

    /// Classifies the answer to `restore --lsm-mount-context` given without its value. The
    /// runtime may print on stdout (runc's usage text) or stderr, so both are searched.
    static func classifyMissingArgument(_ result: ToolResult) -> PodRestoreSupport {
        let output = result.combinedOutput
        for phrase in ["flag needs an argument", "requires an argument"] {
            if let line = line(in: output, containing: phrase), output.contains("lsm-mount-context") {
                return .supported(evidence: "`restore \(flag)` asks for its argument: \(line)")
            }
        }
        for phrase in ["flag provided but not defined", "unrecognized option"] {
            if let line = line(in: output, containing: phrase) {
                return .unsupported(reason: "the runtime does not know `restore \(flag)`: \(line)")
            }
        }
        if let line = line(in: output, containing: "unknown command") {
            return .unsupported(
                reason: "the runtime has no `restore` command (built without checkpoint/restore?): \(line)")
        }
        let tail = tailLines(output, count: 3)
        let shown = tail.isEmpty ? "no output" : tail
        return .unsupported(reason: "unrecognised answer to `restore \(flag)` (\(result.status)): \(shown)")
    }

    /// The first line of `text` that contains `phrase`, trimmed.
    private static func line(in text: String, containing phrase: String) -> String? {
        text.split(whereSeparator: \.isNewline).first { $0.contains(phrase) }
            .map { $0.trimmingTrailingWhitespace() }
    }
}
