#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodEngine
import CrpodLinux

/// One archive the daemon restores at start-up (appliances): `boot_restore = ARCHIVE:POD[:NAME]`.
public struct BootRestore: Sendable, Equatable {
    public var archive: String
    public var pod: String
    public var name: String?
}

/// The daemon's settings from the config file (reloaded on SIGHUP) and its flags.
public struct DaemonConfig: Sendable {
    public var socketPath: String
    public var socketMode: mode_t = 0o660
    public var socketGroup: UInt32?
    public var watch: [SpoolDirectory]
    public var podMap: [String: String] = [:]
    public var maxJobs = 2
    public var maxQueued = 64
    public var apiDirectories: [String]
    /// `allow_registry` lines: the registries API pulls may contact (none: any).
    public var allowedRegistries: [String] = []
    /// The daemon restores only onto base rootfs directories the config lists.
    public var policy: RestorePolicy = {
        var policy = RestorePolicy()
        policy.rootfsMustBeListed = true
        return policy
    }()
    public var bootRestores: [BootRestore] = []
    public var bootRetries = 3
    public var bootRetryDelaySeconds = 2.0
    public var limits: ServerLimits

    public static func defaultSocket(runRoot: String) -> String { runRoot + "/crpod.sock" }

    /// Defaults from the engine's settings, then every daemon key of `file`.
    public static func load(_ file: ConfigFile, settings: EngineSettings) throws -> DaemonConfig {
        var config = DaemonConfig(
            socketPath: defaultSocket(runRoot: settings.runRoot),
            watch: [SpoolDirectory(path: settings.root + "/spool/incoming")],
            apiDirectories: [settings.root + "/spool", settings.root + "/archives"],
            limits: ServerLimits(uploadDirectory: settings.root + "/uploads"))
        try config.apply(file)
        return config
    }

    mutating func apply(_ file: ConfigFile) throws {
        if let socket = file.values["socket"] { socketPath = socket }
        if let mode = file.values["socket_mode"] { socketMode = try Self.parse(mode, radix: 8, "socket_mode", file) }
        if let group = file.values["socket_group"] {
            guard let gid = PeerCredentials.groupID(named: group) else { throw Self.invalid("socket_group", "no group \(group)", file) }
            socketGroup = gid
        }
        let watches = file.all("watch").map { SpoolDirectory(argument: $0.value) }
        if !watches.isEmpty { watch = watches }
        for entry in file.all("pod_map") {
            let parts = entry.value.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw Self.invalid("pod_map", "expected ARCHIVE_POD:POD, got \(entry.value) (\(entry.location))", file) }
            podMap[parts[0]] = parts[1]
        }
        if let value = file.values["max_jobs"] { maxJobs = try Self.parse(value, radix: 10, "max_jobs", file) }
        if let value = file.values["max_queued"] { maxQueued = try Self.parse(value, radix: 10, "max_queued", file) }
        let dirs = file.all("api_dir").map(\.value)
        if !dirs.isEmpty { apiDirectories = dirs }
        policy.allowedRootfs = file.all("allow_rootfs").map(\.value)
        allowedRegistries = file.all("allow_registry").map(\.value)
        policy.allowedBindSources = file.all("allow_bind_source").map(\.value)
        policy.allowedExtraCapabilities = file.all("allow_capability").map(\.value)
        policy.allowPrivileged = file.values["allow_privileged"] == "true"
        bootRestores = try file.all("boot_restore").map { entry in
            let parts = entry.value.split(separator: ":").map(String.init)
            guard (2...3).contains(parts.count), parts[0].hasPrefix("/") else {
                throw Self.invalid("boot_restore", "expected /ARCHIVE:POD[:NAME], got \(entry.value) (\(entry.location))", file)
            }
            return BootRestore(archive: parts[0], pod: parts[1], name: parts.count == 3 ? parts[2] : nil)
        }
        if let value = file.values["boot_retries"] { bootRetries = try Self.parse(value, radix: 10, "boot_retries", file) }
        if let value = file.values["boot_retry_delay"] {
            guard let seconds = Double(value), seconds >= 0 else { throw Self.invalid("boot_retry_delay", "not a number of seconds: \(value)", file) }
            bootRetryDelaySeconds = seconds
        }
        if let value = file.values["max_request_bytes"] { limits.maxRequestBytes = try Self.parse(value, radix: 10, "max_request_bytes", file) }
        if let value = file.values["max_upload_bytes"] { limits.maxUploadBytes = try Self.parse(value, radix: 10, "max_upload_bytes", file) }
        if let value = file.values["read_timeout"] { limits.readTimeoutSeconds = try Self.parse(value, radix: 10, "read_timeout", file) }
    }

    /// Warnings the daemon logs at start and on reload: a policy under which it can restore
    /// nothing, allowed directories that do not exist. `configPath` is named in the fix.
    public func policyWarnings(configPath: String) -> [String] {
        var warnings: [String] = []
        if policy.allowedRootfs.isEmpty {
            warnings.append("the restore policy allows no rootfs: every restore (spool, API, boot list) and every API run will be refused. "
                + "Add one `allow_rootfs = DIR` line per base rootfs directory your archives and containers use to \(configPath), "
                + "then reload (SIGHUP) or restart the daemon")
        }
        for directory in policy.allowedRootfs where !Files.isDirectory(directory) {
            warnings.append("allow_rootfs \(directory) (in \(configPath)) is not a directory: nothing can be restored onto it")
        }
        return warnings
    }

    /// What the API router needs, for reloads.
    public var access: APIAccess {
        APIAccess(allowedGroup: socketGroup, allowedDirectories: apiDirectories, policy: policy, allowedRegistries: allowedRegistries)
    }

    static func parse<T: FixedWidthInteger>(_ text: String, radix: Int, _ key: String, _ file: ConfigFile) throws -> T {
        guard let value = T(text, radix: radix), value >= 0 else { throw invalid(key, "not a number: \(text)", file) }
        return value
    }

    static func invalid(_ key: String, _ detail: String, _ file: ConfigFile) -> EngineError {
        let location = file.all(key).last?.location ?? "config"
        return EngineError.invalidInput(what: "\(key) (\(location))", detail: detail)
    }
}
