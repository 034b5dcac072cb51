#if canImport(Glibc)
import Glibc
#endif
import CrpodDrivers
import CrpodLinux
import CrpodRegistry

/// crpod's configuration file: `key = value` lines (values may be quoted), `#` comments.
/// Engine keys: root, run_root, runtime, criu, cgroup_parent, runtime_timeout, engine, cni_config_dir, cni_plugin_dir,
/// registry_auth_file. The daemon's keys (see
/// contrib/crpod.conf.example) may repeat; the CLI ignores them.
public struct ConfigFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
        /// `file:line`, for error messages.
        public var location: String
    }

    public var entries: [Entry]
    /// The last value of each key.
    public var values: [String: String] { Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }) }
    public static let defaultPath = "/etc/crpod/crpod.conf"
    public static let engineKeys: Set<String> = ["root", "run_root", "runtime", "criu", "cgroup_parent", "runtime_timeout", "engine", "cni_config_dir", "cni_plugin_dir",
                                                   "registry_auth_file"]
    public static let daemonKeys: Set<String> = [
        "socket", "socket_mode", "socket_group", "watch", "pod_map", "max_jobs", "max_queued", "api_dir", "allow_rootfs", "allow_registry",
        "allow_bind_source", "allow_capability", "allow_privileged", "boot_restore", "boot_retries", "boot_retry_delay",
        "max_request_bytes", "max_upload_bytes", "read_timeout",
    ]
    public static var knownKeys: Set<String> { engineKeys.union(daemonKeys) }

    public init(entries: [Entry] = []) { self.entries = entries }

    public init(values: [String: String]) {
        self.init(entries: values.sorted { $0.key < $1.key }.map { Entry(key: $0.key, value: $0.value, location: "") })
    }

    /// Every value of a repeatable key, in file order.
    public func all(_ key: String) -> [Entry] { entries.filter { $0.key == key } }

    public static func parse(_ text: String, path: String) throws -> ConfigFile {
        var entries: [Entry] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingCharacters(in: " \t\r")
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: " \t") }
            guard parts.count == 2, knownKeys.contains(parts[0]) else {
                throw EngineError.invalidInput(what: "config \(path):\(index + 1)", detail: "expected one of \(knownKeys.sorted().joined(separator: ", ")) = value, got \"\(trimmed)\"")
            }
            entries.append(Entry(key: parts[0], value: parts[1].trimmingCharacters(in: "\""), location: "\(path):\(index + 1)"))
        }
        return ConfigFile(entries: entries)
    }

    /// Reads `path`; a missing default file is an empty config, a missing explicit one an error.
    public static func load(path: String?) throws -> ConfigFile {
        let chosen = path ?? defaultPath
        if path == nil && !Files.exists(chosen) { return ConfigFile() }
        let text = try step("read config \(chosen)") { try Files.readText(chosen) }
        return try parse(text, path: chosen)
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

/// Where crpod keeps things and which tools it drives, resolved from flags, environment,
/// the config file and PATH (in that order).
public struct EngineSettings: Sendable {
    public var root: String
    public var runRoot: String
    public var runtimePath: String?
    public var criuPath: String?
    public var criuSource: String?
    public var cgroupParent: String
    public var helperDirectory: String
    /// `runtime_timeout` (seconds): a runc checkpoint or restore (with its CRIU) still running
    /// after this is killed and rolled back, so a hung CRIU never holds a worker forever.
    public var runtimeTimeLimit: Duration = .seconds(600)
    /// `engine` (flag `--engine`, env CRPOD_ENGINE): which engine restores and checkpoints.
    public var enginePreference: EnginePreference = .auto
    /// `cni_config_dir` (flag `--cni-config-dir`): where pod networks' CNI configurations are.
    public var cniConfigDirectory: String = CNINetworkConfigList.defaultDirectory
    /// `cni_plugin_dir` (repeatable; CNI_PATH order): where the CNI plugins are.
    public var cniPluginDirectories: [String] = CNINetworkConfigList.defaultPluginDirectories
    /// Where pulls and pushes without `--creds`/`--authfile` look for registry credentials
    /// (containers-auth.json): `$REGISTRY_AUTH_FILE`, else `registry_auth_file` (both must
    /// exist), else podman's default for this user, only when it exists.
    public var registryAuthFile: (path: String, mustExist: Bool)?

    public var runtimeStateRoot: String { runRoot + "/runc" }
    /// The native engine's state files (one directory per container it restored).
    public var nativeStateRoot: String { runRoot + "/native" }
    /// The native engine's cgroup yards for CRIU (`CRIUCgroupYard`).
    public var cgroupYardRoot: String { runRoot + "/cgroup-yard" }

    public struct Overrides: Sendable {
        public var root: String?
        public var runRoot: String?
        public var runtime: String?
        public var criu: String?
        public var configPath: String?
        public var engine: String?
        public var cniConfigDirectory: String?
        public init(root: String? = nil, runRoot: String? = nil, runtime: String? = nil, criu: String? = nil, configPath: String? = nil,
                    engine: String? = nil, cniConfigDirectory: String? = nil) {
            self.engine = engine
            self.cniConfigDirectory = cniConfigDirectory
            self.root = root
            self.runRoot = runRoot
            self.runtime = runtime
            self.criu = criu
            self.configPath = configPath
        }
    }

    public static func resolve(_ overrides: Overrides, environment: [String: String]) throws -> EngineSettings {
        let config = try ConfigFile.load(path: overrides.configPath ?? environment["CRPOD_CONFIG"])
        let searchPath = environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let criu = CRIUProbe.locate(explicit: overrides.criu, configured: config.values["criu"], searchPath: searchPath)
        let runtime = overrides.runtime ?? config.values["runtime"] ?? ToolRunner.which("runc", searchPath: searchPath)
        var settings = EngineSettings(
            root: overrides.root ?? environment["CRPOD_ROOT"] ?? config.values["root"] ?? "/var/lib/crpod",
            runRoot: overrides.runRoot ?? environment["CRPOD_RUNROOT"] ?? config.values["run_root"] ?? "/run/crpod",
            runtimePath: runtime, criuPath: criu?.path, criuSource: criu?.source,
            cgroupParent: config.values["cgroup_parent"] ?? "/crpod",
            helperDirectory: environment["CRPOD_HELPER_DIR"] ?? executableDirectory())
        if let text = config.values["runtime_timeout"] {
            guard let seconds = Int(text), seconds > 0 else {
                throw EngineError.invalidInput(what: "runtime_timeout", detail: "\(text) is not a positive number of seconds")
            }
            settings.runtimeTimeLimit = .seconds(seconds)
        }
        if let text = overrides.engine ?? environment["CRPOD_ENGINE"].flatMap({ $0.isEmpty ? nil : $0 }) ?? config.values["engine"] {
            guard let preference = EnginePreference(rawValue: text) else {
                throw EngineError.invalidInput(what: "engine", detail: "\"\(text)\" is not one of \(EnginePreference.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.enginePreference = preference
        }
        if let directory = overrides.cniConfigDirectory ?? config.values["cni_config_dir"] { settings.cniConfigDirectory = directory }
        let pluginDirectories = config.all("cni_plugin_dir").map(\.value)
        if !pluginDirectories.isEmpty { settings.cniPluginDirectories = pluginDirectories }
        settings.registryAuthFile = registryAuthFile(config: config, environment: environment)
        return settings
    }

    static func registryAuthFile(config: ConfigFile, environment: [String: String]) -> (path: String, mustExist: Bool)? {
        if let path = environment["REGISTRY_AUTH_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) ?? config.values["registry_auth_file"] { return (path, true) }
        return RegistryAuth.defaultAuthFile(environment: environment, uid: geteuid()).map { ($0, false) }
    }

    /// The directory of the running executable: crpod-pause and crpod-logger live beside it.
    static func executableDirectory() -> String {
        guard let executable = Files.readLink("/proc/self/exe"), !executable.isEmpty else { return "/usr/local/libexec/crpod" }
        return Files.parent(of: executable)
    }

    public func helperPath(_ name: String) throws -> String {
        let candidates = [helperDirectory + "/" + name, "/usr/local/libexec/crpod/" + name, "/usr/libexec/crpod/" + name]
        guard let found = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw EngineError.helperMissing(name: name, searched: candidates)
        }
        return found
    }

    public func requireRuntime() throws -> String {
        guard let runtimePath else {
            throw EngineError.toolMissing(name: "OCI runtime (runc)", fix: "install runc (contrib/provision.sh) or pass --runtime PATH")
        }
        return runtimePath
    }
}

/// Which engine restores and checkpoints: `runc` (runc runs CRIU), `native` (crpod runs CRIU),
/// `auto` (native when this host's CRIU is recent enough, else runc).
public enum EnginePreference: String, Sendable, CaseIterable, Codable {
    case auto, runc, native
}
