/// Options of `criu dump` and `criu pre-dump`. Image and work directories are always explicit;
/// `--shell-job` is never passed (crpod containers have pipes, not a terminal).
public struct CRIUDumpOptions: Sendable, Hashable {
    /// The root of the process tree (`-t`): the container's init.
    public var pid: Int32
    public var imagesDirectory: String
    public var workDirectory: String
    public var logging: CRIULogging
    /// The container's root as seen from the host (`--root`): CRIU resolves mount points and
    /// file paths against it.
    public var root: String?
    public var leaveRunning = false
    public var tcpEstablished = false
    public var fileLocks = false
    public var manageCgroups: CRIUCgroupMode?
    /// At dump `--cgroup-root` names the cgroup whose subtree is dumped.
    public var cgroupRoots: [CRIUCgroupRoot] = []
    /// A cgroup yard (`--cgroup-yard`, see `CRIUCgroupYard`): CRIU opens the hierarchies there
    /// instead of mounting them while the tree is frozen.
    public var cgroupYard: String?
    /// Freeze with the cgroup freezer at this path (`--freeze-cgroup`); `nil` = ptrace seize.
    public var freezeCgroup: String?
    public var networkLock: CRIUNetworkLock?
    /// A CRIU configuration file (`--config`), as runc hands CRIU the `org.criu.config` one.
    /// On the command line CRIU reads it first, so the options given here win.
    public var configFile: String?
    public var externalNamespaces: [CRIUExternalNamespace] = []
    public var externalMounts: [CRIUExternalMount] = []
    /// Pre-copy: images of an earlier (pre-)dump (`--prev-images-dir`, relative to `-D` or
    /// absolute) whose unchanged pages this dump links to instead of writing again.
    public var previousImagesDirectory: String?
    /// `--track-mem`: let the kernel track dirty pages so a later dump can write only those.
    public var trackMemory = false
    /// `criu pre-dump` instead of `criu dump`: pages only, the tree keeps running.
    public var preDump = false

    public init(pid: Int32, imagesDirectory: String, workDirectory: String, logging: CRIULogging) {
        self.pid = pid
        self.imagesDirectory = imagesDirectory
        self.workDirectory = workDirectory
        self.logging = logging
    }

    /// Where the log of this dump is.
    public var logPath: String { logging.path(workDirectory: workDirectory) }
}

extension CRIUDriver {
    /// The argv after the executable for `criu dump` (or `pre-dump`).
    public func dumpArguments(_ options: CRIUDumpOptions) -> [String] {
        var arguments = [options.preDump ? "pre-dump" : "dump", "-t", String(options.pid),
                         "-D", options.imagesDirectory, "-W", options.workDirectory]
        arguments += options.logging.arguments()
        if let config = options.configFile { arguments += ["--config", config] }
        if let root = options.root { arguments += ["--root", root] }
        if options.leaveRunning && !options.preDump { arguments.append("--leave-running") }
        if options.tcpEstablished { arguments.append("--tcp-established") }
        if options.fileLocks { arguments.append("--file-locks") }
        if let mode = options.manageCgroups { arguments.append("--manage-cgroups=\(mode.rawValue)") }
        for root in options.cgroupRoots { arguments += ["--cgroup-root", root.argument] }
        if let yard = options.cgroupYard { arguments += ["--cgroup-yard", yard] }
        if let freezer = options.freezeCgroup { arguments += ["--freeze-cgroup", freezer] }
        if let lock = options.networkLock { arguments += ["--network-lock", lock.rawValue] }
        for namespace in options.externalNamespaces { arguments += ["--external", namespace.argument] }
        for mount in options.externalMounts { arguments += ["--external", mount.dumpArgument] }
        if let previous = options.previousImagesDirectory { arguments += ["--prev-images-dir", previous] }
        if options.trackMemory { arguments.append("--track-mem") }
        return arguments
    }

    /// `criu dump` (or `pre-dump`). Without `leaveRunning` the tree is gone afterwards. A
    /// failure throws `DriverError.toolFailed` (or `.criuRefused`) carrying the CRIU log's
    /// error lines; CRIU resumes the tree when a dump fails. With `timeLimit` CRIU (and what it
    /// started) is killed once it is up and `DriverError.timedOut` is thrown.
    @discardableResult
    public func dump(_ options: CRIUDumpOptions, timeLimit: Duration? = nil) async throws -> ToolResult {
        try await runChecked(dumpArguments(options), inheriting: [], logPath: options.logPath, timeLimit: timeLimit)
    }
}
