import SystemPackage

/// Options of `criu restore`. Always detached with a pidfile: crpod never keeps CRIU around as
/// the restored tree's parent.
public struct CRIURestoreOptions: Sendable, Hashable {
    public var imagesDirectory: String
    public var workDirectory: String
    public var logging: CRIULogging
    /// Where the restored root's PID is written (`--pidfile`; relative = inside the work dir).
    public var pidFile: String
    /// The container's new root (`--root`). CRIU wants a mount point whose parent is not
    /// overmounted: the container's overlay mount is one.
    public var root: String?
    public var tcpEstablished = false
    public var fileLocks = false
    public var manageCgroups: CRIUCgroupMode?
    /// Where the dumped cgroups are re-created: per controller, or for all without a name.
    public var cgroupRoots: [CRIUCgroupRoot] = []
    /// A cgroup yard (`--cgroup-yard`, see `CRIUCgroupYard`) instead of CRIU's own mounts.
    public var cgroupYard: String?
    // No `--network-lock`: the method is recorded in the images at dump; CRIU 4.2.1 warns
    // "--network-lock will be ignored in restore command" and unlocks the way it locked.
    /// Descriptors CRIU inherits: external namespaces by key, stdio pipes by `pipe:[inode]`.
    public var inheritedFiles: [CRIUInheritedFile] = []
    public var joinedNamespaces: [CRIUJoinedNamespace] = []
    public var externalMounts: [CRIUExternalMount] = []
    /// Restore the root task as CRIU's sibling (`--restore-sibling`), as runc does; the default
    /// makes it CRIU's child, reparented to the subreaper when CRIU exits.
    public var restoreSibling = false
    /// `selinux:<label>` or `apparmor:<profile>`.
    public var lsmProfile: String?
    public var lsmMountContext: String?
    /// `--evasive-devices`: accept any path to a device whose original path is gone.
    public var evasiveDevices = false
    /// CRIU is killed when the restore has not ended by then; nil: no limit.
    public var timeLimit: Duration?
    /// `--leave-stopped`: the restored tasks stay stopped (SIGSTOP) until crpod continues them.
    public var leaveStopped = false

    public init(imagesDirectory: String, workDirectory: String, logging: CRIULogging, pidFile: String) {
        self.imagesDirectory = imagesDirectory
        self.workDirectory = workDirectory
        self.logging = logging
        self.pidFile = pidFile
    }

    public var logPath: String { logging.path(workDirectory: workDirectory) }

    /// The pidfile's path as CRIU resolves it.
    public var pidFilePath: String { pidFile.hasPrefix("/") ? pidFile : workDirectory + "/" + pidFile }
}

extension CRIUDriver {
    /// The argv after the executable for `criu restore`.
    public func restoreArguments(_ options: CRIURestoreOptions) -> [String] {
        var arguments = ["restore", "-D", options.imagesDirectory, "-W", options.workDirectory]
        arguments += options.logging.arguments()
        arguments += ["--restore-detached", "--pidfile", options.pidFile]
        if options.restoreSibling { arguments.append("--restore-sibling") }
        if let root = options.root { arguments += ["--root", root] }
        if options.tcpEstablished { arguments.append("--tcp-established") }
        if options.fileLocks { arguments.append("--file-locks") }
        if options.evasiveDevices { arguments.append("--evasive-devices") }
        if options.leaveStopped { arguments.append("--leave-stopped") }
        if let mode = options.manageCgroups { arguments.append("--manage-cgroups=\(mode.rawValue)") }
        for root in options.cgroupRoots { arguments += ["--cgroup-root", root.argument] }
        if let yard = options.cgroupYard { arguments += ["--cgroup-yard", yard] }
        for file in options.inheritedFiles { arguments += ["--inherit-fd", file.argument] }
        for namespace in options.joinedNamespaces { arguments += ["--join-ns", namespace.argument] }
        for mount in options.externalMounts { arguments += ["--external", mount.restoreArgument] }
        if let profile = options.lsmProfile { arguments += ["--lsm-profile", profile] }
        if let context = options.lsmMountContext { arguments += ["--lsm-mount-context", context] }
        return arguments
    }

    /// `criu restore --restore-detached`; returns the restored root's PID from the pidfile.
    /// `stdio`, when given, becomes CRIU's stdout and stderr, so an inherited file with fd 1 or
    /// 2 (a stdio pipe's key) re-attaches the restored tree's output to it. Files with a
    /// `source` are opened as their fd in CRIU (see `launch`).
    public func restore(_ options: CRIURestoreOptions, stdio: FileDescriptor? = nil) async throws -> Int32 {
        let arguments = restoreArguments(options)
        try await runChecked(arguments, inheriting: options.inheritedFiles, logPath: options.logPath, stdio: stdio,
                             timeLimit: options.timeLimit)
        let text = RuncLog.read(options.pidFilePath, from: 0)
        guard let pid = Int32(text.filter { !$0.isWhitespace }), pid > 0 else {
            throw CRIUDriverError.pidFileUnreadable(path: options.pidFilePath, content: String(text.prefix(64)))
        }
        return pid
    }
}
