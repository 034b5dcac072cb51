import SystemPackage

/// Options of `runc checkpoint`. Image and work paths are always explicit.
public struct CheckpointOptions: Sendable, Equatable {
    public var imagePath: String
    public var workPath: String
    public var leaveRunning = false
    public var tcpEstablished = false
    public var fileLocks = false
    /// soft, full, strict or ignore (runc's --manage-cgroups-mode); nil keeps runc's default.
    public var manageCgroupsMode: String?
    /// runc (and its CRIU) are killed when the checkpoint has not ended by then; nil: no limit.
    public var timeLimit: Duration?
    /// The container as another engine started it (a runc container checkpointed natively):
    /// the native engine dumps this init with this bundle's config. runc ignores it.
    public var startedElsewhere: StartedContainer?
    /// A cgroup v2 directory (absolute path) already frozen by the caller: the native engine
    /// hands it to CRIU (`--freeze-cgroup`), which seizes the frozen tasks, lets them into
    /// ptrace stops and leaves the cgroup frozen as it found it (a whole-pod checkpoint's one
    /// cut). A task frozen by the caller alone cannot run CRIU's parasite. runc ignores it.
    public var frozenCgroup: String?

    public init(imagePath: String, workPath: String, leaveRunning: Bool = false, tcpEstablished: Bool = false, fileLocks: Bool = false) {
        self.imagePath = imagePath
        self.workPath = workPath
        self.leaveRunning = leaveRunning
        self.tcpEstablished = tcpEstablished
        self.fileLocks = fileLocks
    }
}

/// Options of `runc restore` (always detached: crpod never keeps a runtime process around).
public struct RestoreOptions: Sendable, Equatable {
    public var imagePath: String
    public var workPath: String
    public var bundle: String
    public var pidFile: String
    public var tcpEstablished = false
    public var fileLocks = false
    public var manageCgroupsMode: String?
    /// `selinux:<label>` from the pod's infra when SELinux is on.
    public var lsmProfile: String?
    /// The infra's mount label when SELinux is on.
    public var lsmMountContext: String?
    /// runc (and its CRIU) are killed when the restore has not ended by then; nil: no limit.
    public var timeLimit: Duration?
    /// SysV segments to attach in the restored tasks before they run (native engine only).
    public var sysvReattach: SysVReattach?
    /// Leave the restored tasks stopped for the caller to resume (SIGCONT). The native engine
    /// does; runc cannot and ignores it (its tasks run at once).
    public var leaveStopped = false

    public init(imagePath: String, workPath: String, bundle: String, pidFile: String) {
        self.imagePath = imagePath
        self.workPath = workPath
        self.bundle = bundle
        self.pidFile = pidFile
    }
}

extension RuncDriver {
    public func checkpointArguments(id: String, options: CheckpointOptions, logPath: String?) -> [String] {
        var arguments = globalArguments(logPath: logPath) + ["checkpoint", "--image-path", options.imagePath, "--work-path", options.workPath]
        if options.leaveRunning { arguments.append("--leave-running") }
        if options.tcpEstablished { arguments.append("--tcp-established") }
        if options.fileLocks { arguments.append("--file-locks") }
        if let mode = options.manageCgroupsMode { arguments += ["--manage-cgroups-mode", mode] }
        return arguments + [id]
    }

    public func restoreArguments(id: String, options: RestoreOptions, logPath: String?) -> [String] {
        var arguments = globalArguments(logPath: logPath) + [
            "restore", "--detach", "--image-path", options.imagePath, "--work-path", options.workPath,
            "--bundle", options.bundle, "--pid-file", options.pidFile,
        ]
        if options.tcpEstablished { arguments.append("--tcp-established") }
        if options.fileLocks { arguments.append("--file-locks") }
        if let mode = options.manageCgroupsMode { arguments += ["--manage-cgroups-mode", mode] }
        if let profile = options.lsmProfile { arguments += ["--lsm-profile", profile] }
        if let context = options.lsmMountContext { arguments += ["--lsm-mount-context", context] }
        return arguments + [id]
    }

    /// `runc checkpoint`. On failure the error carries the CRIU log's relevant lines
    /// (`<workPath>/dump.log`); runc and CRIU leave the container running (thawed).
    public func checkpoint(id: String, options: CheckpointOptions, logPath: String? = nil) async throws {
        do {
            try await runChecked(checkpointArguments(id: id, options: options, logPath: logPath), logPath: logPath, timeLimit: options.timeLimit)
        } catch let error as DriverError {
            throw CRIULog.attach(to: error, logPath: options.workPath + "/dump.log")
        }
    }

    /// `runc restore --detach`; stdio as for `create`. On failure the error carries the
    /// relevant lines of `<workPath>/restore.log`.
    public func restore(id: String, options: RestoreOptions, stdio: FileDescriptor?, logPath: String) async throws {
        if options.sysvReattach != nil {
            throw DriverError.unsupported(tool: "runc", what: "restore the tasks stopped so crpod attaches the pod's SysV shared memory in them; use --engine native")
        }
        let arguments = restoreArguments(id: id, options: options, logPath: logPath)
        let offset = RuncLog.size(of: logPath)
        let devNull = stdio == nil ? try Self.openDevNull() : nil
        defer { try? devNull?.close() }
        guard let sink = stdio ?? devNull else { return }
        let result = try await runner.run(runtimePath, arguments, stdout: sink, timeLimit: options.timeLimit)
        guard result.succeeded else {
            let error = failure(arguments, result, logMessages: logMessages(logPath, since: offset))
            throw CRIULog.attach(to: error, logPath: options.workPath + "/restore.log")
        }
    }
}

/// Picks the lines of a CRIU log that explain a failure.
public enum CRIULog {
    /// Errors CRIU reports on every run here that change nothing (no CAP_SYS_RESOURCE).
    static let harmless = ["rlimit: Can't setup RLIMIT_NOFILE for self"]

    /// Every `Error` line (CRIU marks them `Error (file:line):`) plus the last lines.
    public static func excerpt(_ text: String, maxLines: Int = 20, tail: Int = 5) -> [String] {
        let lines = text.split(separator: "\n").map(String.init)
        let errors = lines.filter { line in
            (line.contains("Error (") || line.contains("Error:") || line.contains("fail"))
                && !harmless.contains { line.contains($0) }
        }
        let last = lines.suffix(tail).filter { !errors.contains($0) }
        return Array((errors.suffix(maxLines - last.count)) + last)
    }

    /// CRIU refusals the user can act on: a phrase of CRIU's log line and the advice for it.
    public static let refusals: [(phrase: String, advice: String)] = [
        ("consider using --tcp-established",
         "the container holds an established TCP connection: checkpoint it with --tcp-established (and restore with --tcp-established)"),
        ("Connected TCP socket in image",
         "the checkpoint holds established TCP connections: restore it with --tcp-established"),
        ("opt: Operation not supported",
         "this CRIU cannot dump sockets on this kernel (Linux >= 6.16 needs CRIU >= 4.2; `crpod check` tests it): run contrib/provision.sh, or point --criu at a newer CRIU"),
    ]

    /// The first log line naming a known refusal, with its advice.
    public static func refusal(in lines: [String]) -> (reason: String, advice: String)? {
        for (phrase, advice) in refusals {
            if let line = lines.first(where: { $0.contains(phrase) }) { return (line, advice) }
        }
        return nil
    }

    static func attach(to error: DriverError, logPath: String) -> DriverError {
        guard case let .toolFailed(tool, arguments, status, stderrTail) = error,
              let text = try? String(decoding: readFile(logPath), as: UTF8.self) else { return error }
        let lines = excerpt(text)
        guard !lines.isEmpty else { return error }
        let detail = stderrTail + "\n  CRIU log \(logPath):\n    " + lines.joined(separator: "\n    ")
        if let (reason, advice) = refusal(in: lines) {
            return .criuRefused(tool: tool, arguments: arguments, status: status, reason: reason, advice: advice, detail: detail)
        }
        return .toolFailed(tool: tool, arguments: arguments, status: status, stderrTail: detail)
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
            if bytes.count > 64 << 20 { return bytes }
        }
    }
}

/// A running container as the engine that started it knows it: its init on the host and its
/// bundle (config.json, the root it runs in).
public struct StartedContainer: Sendable, Equatable {
    public var pid: Int32
    public var bundle: String

    public init(pid: Int32, bundle: String) {
        self.pid = pid
        self.bundle = bundle
    }
}
