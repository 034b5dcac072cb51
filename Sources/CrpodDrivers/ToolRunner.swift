#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Subprocess
import SystemPackage

/// How a tool ended. A non-zero exit is data: the caller decides whether it is an error.
public enum ToolStatus: Sendable, Equatable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(_ status: TerminationStatus) {
        switch status {
        case .exited(let code): self = .exited(code)
        case .signaled(let signal): self = .signaled(signal)
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exit status \(code)"
        case .signaled(let signal): return "killed by signal \(signal)"
        }
    }
}

/// What a finished tool left behind. `stdout`/`stderr` are empty when they were sent to a file
/// descriptor instead of being collected.
public struct ToolResult: Sendable {
    public let status: ToolStatus
    public let stdout: String
    public let stderr: String

    public init(status: ToolStatus, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var succeeded: Bool { status == .exited(0) }

    /// The last `lines` lines of stderr, or of stdout when stderr is empty (runc prints usage
    /// errors on stdout).
    public func diagnosticTail(lines: Int = 10) -> String {
        let fromStderr = tailLines(stderr, count: lines)
        return fromStderr.isEmpty ? tailLines(stdout, count: lines) : fromStderr
    }

    /// stdout and stderr together, for matching probe answers wherever the tool put them.
    var combinedOutput: String {
        stdout.isEmpty ? stderr : (stderr.isEmpty ? stdout : stdout + "\n" + stderr)
    }
}

/// Runs external tools (runc, crun, CRIU) through swift-subprocess.
///
/// The child inherits crpod's environment (without systemd's service variables) plus
/// `environment`; stdin is /dev/null unless given.
/// If the calling task is cancelled the child gets SIGTERM, then SIGKILL after 5 seconds.
public struct ToolRunner: Sendable {
    let logger: Logger?

    public init(logger: Logger? = nil) {
        self.logger = logger
    }

    /// Runs `path` with `arguments` and waits for it to end.
    ///
    /// - Parameters:
    ///   - stdout: when given, the child's stdout and stderr both go to this descriptor and
    ///     nothing is collected (use it for children that hand their stdio on, like `runc create`).
    ///   - outputLimit: the most bytes collected from each of stdout and stderr.
    ///   - timeLimit: when given, the child runs in a process group of its own, and the whole
    ///     group (runc and the CRIU it started) gets SIGTERM, then SIGKILL, once the limit is up.
    /// - Throws: `DriverError.launchFailed` when the child could not be started,
    ///   `DriverError.outputLimitExceeded` when it printed too much, `DriverError.timedOut` when
    ///   it outlived `timeLimit`. A non-zero exit is not thrown.
    public func run(
        _ path: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdin: FileDescriptor? = nil,
        stdout: FileDescriptor? = nil,
        outputLimit: Int = 1 << 20,
        timeLimit: Duration? = nil
    ) async throws -> ToolResult {
        let configuration = Self.configuration(path, arguments, environment: environment, ownProcessGroup: timeLimit != nil)
        logger?.debug(
            "running tool",
            metadata: [
                "tool": "\(path)", "arguments": "\(arguments.joined(separator: " "))",
                "environment": "\((environment ?? [:]).keys.sorted().map { "\($0)=<redacted>" })",
            ])
        let launch: @Sendable () async throws -> ToolResult = {
            do {
                if let stdin {
                    let input = FileDescriptorInput.fileDescriptor(stdin, closeAfterSpawningProcess: false)
                    return try await Self.launch(configuration, input: input, stdout: stdout, limit: outputLimit)
                }
                return try await Self.launch(configuration, input: NoInput.none, stdout: stdout, limit: outputLimit)
            } catch let error as SubprocessError {
                throw Self.translate(error, path: path, limit: outputLimit)
            }
        }
        guard let timeLimit else { return try await launch() }
        return try await Self.within(timeLimit, tool: Self.toolName(path), arguments: arguments, launch)
    }

    /// Runs `launch`, or cancels it once `limit` is up (its teardown then kills the child's
    /// process group) and throws `timedOut` after the child is gone. A hung CRIU restore (seen
    /// with 4.2.1 when a task's capabilities cannot be set) must not hold a worker forever.
    static func within(
        _ limit: Duration, tool: String, arguments: [String], _ launch: @escaping @Sendable () async throws -> ToolResult
    ) async throws -> ToolResult {
        try await withThrowingTaskGroup(of: ToolResult?.self) { group in
            group.addTask { try await launch() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            if let first = try await group.next(), let result = first {
                group.cancelAll()
                return result
            }
            group.cancelAll()
            _ = try? await group.next()
            throw DriverError.timedOut(tool: tool, arguments: arguments, limit: limit)
        }
    }

    static let serviceManagerVariables = ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"]

    static func configuration(_ path: String, _ arguments: [String], environment: [String: String]?, ownProcessGroup: Bool = false)
        -> Configuration
    {
        var options = PlatformOptions()
        if ownProcessGroup {
            // A group of its own (pgid = its pid), so the teardown reaches what it started too.
            options.processGroupID = 0
            options.teardownSequence = [
                .send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: .seconds(2)),
                .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .seconds(1)),
            ]
        } else {
            options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(5))]
        }
        var overrides: [Environment.Key: String?] = [:]
        // systemd's variables are for crpod itself: runc would proxy NOTIFY_SOCKET into the
        // container (and fail on a long state path), and the listen fds are not the child's.
        for key in serviceManagerVariables { overrides.updateValue(nil, forKey: Environment.Key(stringLiteral: key)) }
        for (key, value) in environment ?? [:] {
            overrides[Environment.Key(stringLiteral: key)] = value
        }
        return Configuration(
            executable: .path(FilePath(path)),
            arguments: Arguments(arguments),
            environment: Environment.inherit.updating(overrides),
            platformOptions: options
        )
    }

    private static func launch<Input: InputProtocol>(
        _ configuration: Configuration, input: Input, stdout: FileDescriptor?, limit: Int
    ) async throws -> ToolResult {
        if let stdout {
            let sink = FileDescriptorOutput.fileDescriptor(stdout, closeAfterSpawningProcess: false)
            let result = try await Subprocess.run(configuration, input: input, output: sink, error: sink)
            return ToolResult(status: ToolStatus(result.terminationStatus), stdout: "", stderr: "")
        }
        let result = try await Subprocess.run(
            configuration, input: input, output: .string(limit: limit), error: .string(limit: limit))
        return ToolResult(
            status: ToolStatus(result.terminationStatus),
            stdout: result.standardOutput,
            stderr: result.standardError
        )
    }

    static func translate(_ error: SubprocessError, path: String, limit: Int) -> DriverError {
        let tool = toolName(path)
        if error.code == .outputLimitExceeded {
            return .outputLimitExceeded(tool: tool, limit: limit)
        }
        let detail = error.underlyingError.map { "\($0)" } ?? "\(error)"
        return .launchFailed(tool: tool, path: path, detail: detail)
    }

    /// The last path component: the name used in messages (`runc`, `criu`).
    static func toolName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// The first executable regular file called `name` in the colon-separated `searchPath`.
    /// A `name` containing `/` is checked as is. Empty entries are skipped (no implicit `.`).
    public static func which(_ name: String, searchPath: String) -> String? {
        guard !name.isEmpty else { return nil }
        if name.contains("/") {
            return isExecutableFile(name) ? name : nil
        }
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(name)" : "\(directory)/\(name)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }
}
