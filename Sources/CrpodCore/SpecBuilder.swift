/// A POSIX resource limit for the container process (`process.rlimits[]`).
public struct RLimit: Sendable, Equatable {
    /// `RLIMIT_NOFILE`, `RLIMIT_NPROC`, ...
    public var type: String
    public var soft: UInt64
    public var hard: UInt64

    public init(type: String, soft: UInt64, hard: UInt64) {
        self.type = type
        self.soft = soft
        self.hard = hard
    }
}

/// What crpod needs to say about a container to get a runc `config.json` for it.
public struct ContainerSpecRequest: Sendable {
    public var args: [String]
    /// `NAME=value` entries; PATH and TERM get runc's defaults when absent.
    public var env: [String]
    public var workdir: String
    public var rootfsPath: String
    /// Used only when the container gets a private UTS namespace.
    public var hostname: String?
    /// OCI namespace type → path of the namespace to join (`/proc/<pid>/ns/net`).
    public var joinNamespaces: [String: String]
    /// OCI namespace types to create new. `mount` is always private whether listed or not;
    /// types neither joined nor private are shared with the caller of runc.
    public var privateNamespaces: [String]
    public var cgroupsPath: String
    public var rlimits: [RLimit]
    public var annotations: [String: String]
    /// The syscall filter; crpod's default profile unless the caller chose otherwise.
    public var seccomp: SeccompChoice
    /// A host directory bound at /dev/shm (a pod's shared shm); nil = a private tmpfs there.
    public var devShmSource: String? = nil

    /// `privateNamespaces: nil` means every pod-shareable type (cgroup, ipc, network, pid,
    /// uts) that is not joined — the safe default for a container of its own.
    public init(
        args: [String],
        env: [String] = [],
        workdir: String = "/",
        rootfsPath: String,
        hostname: String? = nil,
        joinNamespaces: [String: String] = [:],
        privateNamespaces: [String]? = nil,
        cgroupsPath: String,
        rlimits: [RLimit] = [],
        annotations: [String: String] = [:],
        seccomp: SeccompChoice = .defaultProfile
    ) {
        self.args = args
        self.env = env
        self.workdir = workdir
        self.rootfsPath = rootfsPath
        self.hostname = hostname
        self.joinNamespaces = joinNamespaces
        self.privateNamespaces = privateNamespaces ?? Self.defaultPrivate.filter { joinNamespaces[$0] == nil }
        self.cgroupsPath = cgroupsPath
        self.rlimits = rlimits
        self.annotations = annotations
        self.seccomp = seccomp
    }

    /// Without a pod, a container gets its own copy of every kind a pod could share.
    static let defaultPrivate = OCINamespaceType.podShareable
}

/// Builds a runc `config.json` equivalent to `runc spec`, adjusted for a container that
/// joins some namespaces (those of a pod's infra process) and creates others.
public enum SpecBuilder {
    public static let ociVersion = "1.0.2-dev"
    public static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    public static let defaultTerm = "TERM=xterm"

    /// runc spec's capabilities plus podman's defaults, sorted.
    public static let defaultCapabilities = [
        "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
        "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
    ]

    public static let maskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
    ]

    public static let readonlyPaths = [
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ]

    public static func build(_ request: ContainerSpecRequest) throws -> OCISpec {
        try validate(request)
        var document: JSONValue = [
            "ociVersion": .string(ociVersion),
            "process": process(request),
            "root": ["path": .string(request.rootfsPath), "readonly": false],
            "mounts": mounts(devShmSource: request.devShmSource),
            "linux": try linux(request),
        ]
        if let hostname = request.hostname, isPrivate(OCINamespaceType.uts, in: request) {
            document["hostname"] = .string(hostname)
        }
        if !request.annotations.isEmpty {
            document["annotations"] = .object(request.annotations.mapValues(JSONValue.string))
        }
        return try OCISpec(json: document)
    }

    /// The namespace entries: mount first, then the private types, then the joined ones
    /// with their paths, each group in `OCINamespaceType.all` order.
    public static func namespaces(for request: ContainerSpecRequest) -> [OCINamespace] {
        let byOrder: (String, String) -> Bool = {
            (OCINamespaceType.order($0), $0) < (OCINamespaceType.order($1), $1)
        }
        let privateTypes = Set(request.privateNamespaces).subtracting([OCINamespaceType.mount])
        let mount = [OCINamespace(type: OCINamespaceType.mount)]
        let created = privateTypes.sorted(by: byOrder).map { OCINamespace(type: $0) }
        let joined = request.joinNamespaces.keys.sorted(by: byOrder).map {
            OCINamespace(type: $0, path: request.joinNamespaces[$0])
        }
        return mount + created + joined
    }

    // MARK: - Validation

    static func validate(_ request: ContainerSpecRequest) throws {
        guard !request.args.isEmpty else { throw CoreError.emptyProcessArgs }
        try requireAbsolute(request.workdir, field: "workdir")
        try requireAbsolute(request.rootfsPath, field: "rootfs path")
        try requireAbsolute(request.cgroupsPath, field: "cgroups path")
        for type in request.privateNamespaces where !OCINamespaceType.all.contains(type) {
            throw CoreError.unknownNamespaceType(type)
        }
        for (type, path) in request.joinNamespaces.sorted(by: { $0.key < $1.key }) {
            guard OCINamespaceType.all.contains(type) else { throw CoreError.unknownNamespaceType(type) }
            if type == OCINamespaceType.mount || request.privateNamespaces.contains(type) {
                throw CoreError.namespaceJoinedAndPrivate(type: type)
            }
            guard !path.isEmpty else { throw CoreError.emptyNamespacePath(type: type) }
        }
        for limit in request.rlimits {
            try validate(limit)
        }
    }

    private static func validate(_ limit: RLimit) throws {
        guard limit.type.hasPrefix("RLIMIT_"), limit.type.count > "RLIMIT_".count else {
            throw CoreError.invalidRLimit(type: limit.type, reason: "type must look like RLIMIT_NOFILE")
        }
        guard limit.soft <= limit.hard else {
            throw CoreError.invalidRLimit(
                type: limit.type, reason: "soft limit \(limit.soft) exceeds hard limit \(limit.hard)")
        }
    }

    private static func requireAbsolute(_ path: String, field: String) throws {
        guard path.hasPrefix("/") else { throw CoreError.pathNotAbsolute(field: field, path: path) }
    }

    private static func isPrivate(_ type: String, in request: ContainerSpecRequest) -> Bool {
        request.joinNamespaces[type] == nil && request.privateNamespaces.contains(type)
    }

    // MARK: - Sections

    private static func process(_ request: ContainerSpecRequest) -> JSONValue {
        let caps = JSONValue(strings: defaultCapabilities)
        var process: JSONValue = [
            "terminal": false,
            "user": ["uid": 0, "gid": 0],
            "args": JSONValue(strings: request.args),
            "env": JSONValue(strings: environment(request.env)),
            "cwd": .string(request.workdir),
            "capabilities": ["bounding": caps, "effective": caps, "permitted": caps],
            "noNewPrivileges": true,
        ]
        if !request.rlimits.isEmpty {
            process["rlimits"] = .array(request.rlimits.map {
                ["type": .string($0.type), "soft": JSONValue($0.soft), "hard": JSONValue($0.hard)]
            })
        }
        return process
    }

    /// runc's PATH and TERM first when the request lacks them, then the request's entries.
    static func environment(_ env: [String]) -> [String] {
        let defaults = [defaultPath, defaultTerm].filter { entry in
            let name = entry.prefix { $0 != "=" } + "="
            return !env.contains { $0.hasPrefix(name) }
        }
        return defaults + env
    }

    private static func linux(_ request: ContainerSpecRequest) throws -> JSONValue {
        var linux: JSONValue = [
            "namespaces": .array(namespaces(for: request).map { $0.json() }),
            "cgroupsPath": .string(request.cgroupsPath),
            "maskedPaths": JSONValue(strings: maskedPaths),
            "readonlyPaths": JSONValue(strings: readonlyPaths),
            "resources": ["devices": [["allow": false, "access": "rwm"]]],
        ]
        // Resolved against the bounding set, as podman does (it is the process's ceiling).
        if let seccomp = try request.seccomp.linuxSeccomp(capabilities: Set(defaultCapabilities)) {
            linux["seccomp"] = seccomp
        }
        return linux
    }

    /// runc's default mounts; /dev/shm is a bind of `devShmSource` when there is one, with the
    /// options podman gives a pod member's shm bind.
    static func mounts(devShmSource: String?) -> JSONValue {
        guard let devShmSource, case let .array(entries) = defaultMounts else { return defaultMounts }
        let shared = mount("/dev/shm", type: "bind", source: devShmSource, options: ["bind", "rprivate", "nosuid", "noexec", "nodev"])
        return .array(entries.map { $0["destination"]?.stringValue == "/dev/shm" ? shared : $0 })
    }

    private static let defaultMounts: JSONValue = [
        mount("/proc", type: "proc", source: "proc"),
        mount("/dev", type: "tmpfs", source: "tmpfs",
              options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        mount("/dev/pts", type: "devpts", source: "devpts",
              options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        mount("/dev/shm", type: "tmpfs", source: "shm",
              options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        mount("/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        mount("/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
        mount("/sys/fs/cgroup", type: "cgroup", source: "cgroup",
              options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ]

    private static func mount(_ destination: String, type: String, source: String, options: [String] = []) -> JSONValue {
        var entry: JSONValue = ["destination": .string(destination), "type": .string(type), "source": .string(source)]
        if !options.isEmpty { entry["options"] = JSONValue(strings: options) }
        return entry
    }
}
