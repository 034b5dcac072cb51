#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// Drives an OCI runtime (runc; crun takes the same arguments for these verbs).
///
/// Each verb has a pure argument builder (`createArguments`, ...) returning the complete argv
/// after the executable, and an async method that runs it. A failed verb throws
/// `DriverError.toolFailed` whose `stderrTail` holds the error entries the call appended to its
/// `--log` file when there are any, otherwise the last lines of stderr (or stdout).
public struct RuncDriver: Sendable {
    public let runtimePath: String
    public let stateRoot: String
    public let criuPath: String?
    public let runner: ToolRunner

    public init(runtimePath: String, stateRoot: String, criuPath: String?, runner: ToolRunner = ToolRunner()) {
        self.runtimePath = runtimePath
        self.stateRoot = stateRoot
        self.criuPath = criuPath
        self.runner = runner
    }

    var toolName: String { ToolRunner.toolName(runtimePath) }

    // MARK: - Argument builders (pure)

    /// `--root <stateRoot> [--criu <criuPath>] [--log <logPath> --log-format json]`.
    public func globalArguments(logPath: String?) -> [String] {
        var arguments = ["--root", stateRoot]
        if let criuPath { arguments += ["--criu", criuPath] }
        if let logPath { arguments += ["--log", logPath, "--log-format", "json"] }
        return arguments
    }

    public func createArguments(id: String, bundle: String, pidFile: String, logPath: String?) -> [String] {
        globalArguments(logPath: logPath) + ["create", "--bundle", bundle, "--pid-file", pidFile, id]
    }

    public func startArguments(id: String, logPath: String?) -> [String] {
        globalArguments(logPath: logPath) + ["start", id]
    }

    public func stateArguments(id: String, logPath: String?) -> [String] {
        globalArguments(logPath: logPath) + ["state", id]
    }

    public func listArguments(logPath: String?) -> [String] {
        globalArguments(logPath: logPath) + ["list", "--format", "json"]
    }

    /// runc takes the signal as a number or a name; the number is passed.
    public func killArguments(id: String, signal: Int32, all: Bool, logPath: String?) -> [String] {
        globalArguments(logPath: logPath) + ["kill"] + (all ? ["--all"] : []) + [id, String(signal)]
    }

    public func deleteArguments(id: String, force: Bool, logPath: String?) -> [String] {
        globalArguments(logPath: logPath) + ["delete"] + (force ? ["--force"] : []) + [id]
    }

    // MARK: - Verbs

    /// `runc create`: the container's init gets stdin = /dev/null and stdout + stderr = `stdio`
    /// (or /dev/null). runc hands its own stdio to the container, so its error text would land in
    /// `stdio`; the error is read back from the `--log` file instead. Without a `logPath` a
    /// temporary log file is used for the call and removed afterwards.
    public func create(
        id: String, bundle: String, pidFile: String, stdio: FileDescriptor?, logPath: String? = nil
    ) async throws {
        if let logPath {
            try await create(id: id, bundle: bundle, pidFile: pidFile, stdio: stdio, log: logPath)
            return
        }
        let temporary = try TemporaryFile.make(prefix: "crpod-runc-create-", suffix: ".log")
        defer { temporary.remove() }
        try await create(id: id, bundle: bundle, pidFile: pidFile, stdio: stdio, log: temporary.path)
    }

    private func create(id: String, bundle: String, pidFile: String, stdio: FileDescriptor?, log: String)
        async throws
    {
        let arguments = createArguments(id: id, bundle: bundle, pidFile: pidFile, logPath: log)
        var devNull: FileDescriptor? = nil
        defer { try? devNull?.close() }
        let sink: FileDescriptor
        if let stdio {
            sink = stdio
        } else {
            let opened = try Self.openDevNull()
            devNull = opened
            sink = opened
        }
        let offset = RuncLog.size(of: log)
        let result = try await runner.run(runtimePath, arguments, stdout: sink)
        guard result.succeeded else {
            throw failure(arguments, result, logMessages: logMessages(log, since: offset))
        }
    }

    public func start(id: String, logPath: String? = nil) async throws {
        try await runChecked(startArguments(id: id, logPath: logPath), logPath: logPath)
    }

    /// The container's state; `nil` when the runtime says it does not exist.
    public func state(id: String, logPath: String? = nil) async throws -> RuntimeState? {
        let arguments = stateArguments(id: id, logPath: logPath)
        let (result, messages) = try await invoke(arguments, logPath: logPath)
        guard result.succeeded else {
            let error = failure(arguments, result, logMessages: messages)
            if case .toolFailed(_, _, _, let tail) = error, Self.meansNotFound(tail) { return nil }
            throw error
        }
        do {
            return try RuntimeState.decode(state: result.stdout)
        } catch {
            throw DriverError.unexpectedOutput(tool: toolName, detail: "`state \(id)` printed undecodable JSON: \(error)")
        }
    }

    /// All containers under `stateRoot` (`runc list --format json`; `null` = none).
    public func list(logPath: String? = nil) async throws -> [RuntimeState] {
        let result = try await runChecked(listArguments(logPath: logPath), logPath: logPath)
        do {
            return try RuntimeState.decode(list: result.stdout)
        } catch {
            throw DriverError.unexpectedOutput(tool: toolName, detail: "`list --format json` printed undecodable JSON: \(error)")
        }
    }

    public func kill(id: String, signal: Int32 = SIGTERM, all: Bool = false, logPath: String? = nil) async throws {
        try await runChecked(killArguments(id: id, signal: signal, all: all, logPath: logPath), logPath: logPath)
    }

    public func delete(id: String, force: Bool = false, logPath: String? = nil) async throws {
        try await runChecked(deleteArguments(id: id, force: force, logPath: logPath), logPath: logPath)
    }

    // MARK: - Plumbing

    /// Whether a failure message means "no such container" (runc: `container does not exist`;
    /// crun: `error opening file '<root>/<id>/status': No such file or directory`).
    static func meansNotFound(_ message: String) -> Bool {
        message.contains("does not exist") || message.contains("No such file or directory")
    }

    /// Runs `arguments`, collecting output; returns the result and the error entries this call
    /// added to `logPath`.
    func invoke(_ arguments: [String], logPath: String?, timeLimit: Duration? = nil) async throws -> (ToolResult, [String]) {
        let offset = logPath.map(RuncLog.size(of:)) ?? 0
        let result = try await runner.run(runtimePath, arguments, timeLimit: timeLimit)
        guard !result.succeeded, let logPath else { return (result, []) }
        return (result, logMessages(logPath, since: offset))
    }

    @discardableResult
    func runChecked(_ arguments: [String], logPath: String?, timeLimit: Duration? = nil) async throws -> ToolResult {
        let (result, messages) = try await invoke(arguments, logPath: logPath, timeLimit: timeLimit)
        guard result.succeeded else { throw failure(arguments, result, logMessages: messages) }
        return result
    }

    func logMessages(_ logPath: String, since offset: Int64) -> [String] {
        RuncLog.errorMessages(jsonLines: RuncLog.read(logPath, from: offset))
    }

    func failure(_ arguments: [String], _ result: ToolResult, logMessages: [String]) -> DriverError {
        .toolFailed(
            tool: toolName, arguments: arguments, status: result.status,
            stderrTail: RuncLog.diagnostics(logMessages: logMessages, result: result))
    }

    static func openDevNull() throws -> FileDescriptor {
        do {
            return try FileDescriptor.open("/dev/null", .readWrite, options: [.closeOnExec])
        } catch let errno as Errno {
            throw DriverError.fileFailed(operation: "open", path: "/dev/null", errno: errno)
        }
    }
}

/// A file created with `mkstemps` (mode 0600) in `$TMPDIR` or /tmp, closed, for a tool to write.
struct TemporaryFile: Sendable {
    let path: String

    static func make(prefix: String, suffix: String) throws -> TemporaryFile {
        let directory = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(directory)/\(prefix)XXXXXX\(suffix)".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemps(base, Int32(suffix.utf8.count))
        }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard fd >= 0 else {
            throw DriverError.fileFailed(operation: "create", path: path, errno: Errno(rawValue: errno))
        }
        close(fd)
        return TemporaryFile(path: path)
    }

    func remove() {
        unlink(path)
    }
}
