import CrpodCore
import CrpodLinux

/// What the native engine reads of a running container before dumping it (`NativeEngine`
/// gathers it; `NativeDumpPlan.options` decides from it alone, without I/O).
public struct NativeDumpFacts: Sendable, Equatable {
    /// The container's init on the host: CRIU's `-t`.
    public var initPid: Int32
    /// The bundle's config.json.
    public var spec: OCISpec
    /// The container's root on the host (the spec's `root.path`, resolved against the bundle).
    public var root: String
    /// Inode of each namespace the spec joins by path, by kind (`net`, `pid`): those are the
    /// pod's, and CRIU records them by key instead of dumping them.
    public var joinedNamespaceInodes: [NamespaceKind: UInt64] = [:]
    /// The container's mounts as it sees them (`/proc/<init>/mounts`).
    public var containerMounts: [MountEntry] = []
    /// Masked paths (`linux.maskedPaths`) that exist in the container and are not directories:
    /// runc binds /dev/null over those.
    public var maskedFiles: Set<String> = []
    /// Every process in the container's cgroup (and nested ones), with its parent PID.
    public var cgroupProcesses: [Int32: Int32] = [:]
    /// The CRIU configuration file runc would hand CRIU (`org.criu.config`), when it exists.
    public var configFile: String?
    /// `readlink /proc/<init>/fd/0..2` ("" for a descriptor that is closed).
    public var stdioTargets: [String] = ["", "", ""]
    /// A cgroup yard with every hierarchy of the init's cgroups (nil: CRIU mounts them).
    public var cgroupYard: String?

    public init(initPid: Int32, spec: OCISpec, root: String) {
        self.initPid = initPid
        self.spec = spec
        self.root = root
    }
}

/// The native dump, decided: CRIU's options and `descriptors.json`.
public struct NativeDumpPlan: Sendable, Equatable {
    public var criu: CRIUDumpOptions
    /// What `descriptors.json` in the image directory holds (runc's format: fds 0, 1, 2).
    public var descriptors: [String]

    /// runc's name for the stdio record in the image directory (runc restore and the native
    /// restore both read it).
    public static let descriptorsFile = "descriptors.json"
    /// runc's log name; CRIU also writes `stats-dump` into the work directory (its cwd).
    public static let logFile = "dump.log"
    /// runc's default devices that have a path (libcontainer/specconv AllowedDevices): runc
    /// marks each, and each `linux.devices` entry, as an external mount at dump.
    public static let defaultDevicePaths = ["/dev/null", "/dev/random", "/dev/full", "/dev/tty", "/dev/zero", "/dev/urandom"]
    /// The source runc binds over masked files, and the external-mount key it records for them.
    public static let maskSource = "/dev/null"

    /// Decides the dump of `facts` as `options` ask. Pure: everything read from the host is
    /// in `facts`.
    ///
    /// Freeze (issue 12 item 3, BENCHMARKS.md "Freeze and network lock"): ptrace seize — no
    /// `--freeze-cgroup`, unlike runc — because CRIU polls either cgroup freezer in 100 ms
    /// steps and the freeze often has not completed at the first read, while seizing a small
    /// tree takes milliseconds (CRIU's freezing_time here on a quiet moment: the counter
    /// 0.3–9.1 ms seized vs up to ~101 ms with either freezer; 51 tasks 7–15 ms seized vs
    /// 6–111 ms). Seize catches every task of the tree: CRIU stops each task it finds and
    /// re-reads the children of every stopped task until no new one appears, so a fork in progress is caught (the parent stops after the fork returns
    /// and its child is then listed), and a stopped task forks no more. What neither method
    /// dumps is a task outside the init's tree (a daemon whose parent exited, reparented to the
    /// pod's init): CRIU walks the tree from `-t` either way (with the freezer it only keeps
    /// such a task frozen and resumes it afterwards). The engine refuses that before dumping
    /// (`strayTasks`) and, after a dump that stops the container, refuses one that escaped
    /// during the dump — never a silently incomplete checkpoint.
    ///
    /// Network lock: `skip` when the network namespace is the pod's (joined by path, external
    /// to the dump) and no TCP connection is dumped; CRIU's default lock otherwise
    /// (`--tcp-established` needs it: the connection must not move on while it is dumped).
    public static func make(_ facts: NativeDumpFacts, _ options: CheckpointOptions) -> NativeDumpPlan {
        var criu = CRIUDumpOptions(pid: facts.initPid, imagesDirectory: options.imagePath, workDirectory: options.workPath,
                                   logging: CRIULogging(file: logFile))
        criu.root = facts.root
        criu.leaveRunning = options.leaveRunning
        criu.tcpEstablished = options.tcpEstablished
        criu.fileLocks = options.fileLocks
        criu.manageCgroups = options.manageCgroupsMode.map(CRIUCgroupMode.init(rawValue:))
        criu.configFile = facts.configFile
        criu.cgroupYard = facts.cgroupYard
        criu.externalNamespaces = externalNamespaces(facts)
        criu.externalMounts = externalMounts(facts)
        let netIsPods = facts.joinedNamespaceInodes[.net] != nil
        criu.networkLock = netIsPods && !options.tcpEstablished ? .skip : nil
        criu.freezeCgroup = options.frozenCgroup
        return NativeDumpPlan(criu: criu, descriptors: facts.stdioTargets)
    }

    /// Processes of the container's cgroup that CRIU's walk from the init would not reach.
    public static func strayTasks(_ facts: NativeDumpFacts) -> [Int32] {
        outsideTree(root: facts.initPid, parents: facts.cgroupProcesses)
    }

    /// Processes of `parents` (pid → parent pid) that do not descend from `root`.
    public static func outsideTree(root: Int32, parents: [Int32: Int32]) -> [Int32] {
        parents.keys.sorted().filter { pid in
            var current = pid
            var steps = 0
            while current != root {
                guard let parent = parents[current], steps < parents.count else { return true }
                current = parent
                steps += 1
            }
            return false
        }
    }

    /// runc's keys for the namespaces joined by path: `net[<ino>]:extRootNetNS`,
    /// `pid[<ino>]:extRootPidNS`.
    static func externalNamespaces(_ facts: NativeDumpFacts) -> [CRIUExternalNamespace] {
        var namespaces: [CRIUExternalNamespace] = []
        if let inode = facts.joinedNamespaceInodes[.net] { namespaces.append(.net(inode: inode)) }
        if let inode = facts.joinedNamespaceInodes[.pid] { namespaces.append(.pid(inode: inode)) }
        return namespaces
    }

    /// runc's external mounts at dump, in its order: each bind mount of the spec (key = the
    /// destination), the v1 per-controller cgroup binds when the container has no cgroup
    /// namespace, each masked path that is a file (key /dev/null), each device node.
    static func externalMounts(_ facts: NativeDumpFacts) -> [CRIUExternalMount] {
        var mounts: [CRIUExternalMount] = []
        let hasCgroupNamespace = facts.spec.namespaces.contains { $0.type == OCINamespaceType.cgroup }
        for mount in facts.spec.mountEntries {
            if mount.isBind {
                mounts.append(.sameKey(mount.destination))
            } else if mount.type == "cgroup", !hasCgroupNamespace {
                let prefix = mount.destination == "/" ? "/" : mount.destination + "/"
                let binds = facts.containerMounts.filter { $0.fsType == "cgroup" && $0.mountPoint.hasPrefix(prefix) }
                mounts += binds.map { .sameKey(cleanPath($0.mountPoint)) }
            }
        }
        for path in facts.spec.maskedPaths where facts.maskedFiles.contains(path) {
            mounts.append(CRIUExternalMount(key: maskSource, path: path))
        }
        let specDevices = facts.spec.devicePaths
        let devices = defaultDevicePaths.filter { !specDevices.contains($0) } + specDevices
        mounts += devices.map { .sameKey(cleanPath($0)) }
        return mounts
    }

    /// `path` without empty, `.` and `..` components (`..` stops at `/`), as runc's
    /// SecureJoin leaves a destination (symlinks inside the root are not followed here).
    public static func cleanPath(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}

extension CRIUExternalMount {
    /// A mount recorded under its own path, as runc does for binds and devices.
    static func sameKey(_ path: String) -> CRIUExternalMount {
        CRIUExternalMount(key: NativeDumpPlan.cleanPath(path), path: NativeDumpPlan.cleanPath(path))
    }
}

/// One `mounts` entry of a spec, as the dump decision needs it.
struct SpecMount: Equatable {
    var destination: String
    var type: String
    var options: [String]

    /// runc treats any mount with `bind` or `rbind` among its options as a bind mount,
    /// whatever its type (libcontainer/specconv createLibcontainerMount).
    var isBind: Bool { type == "bind" || options.contains("bind") || options.contains("rbind") }
}

extension OCISpec {
    var mountEntries: [SpecMount] {
        (json["mounts"]?.arrayValue ?? []).compactMap { entry in
            guard let destination = entry["destination"]?.stringValue else { return nil }
            return SpecMount(destination: destination, type: entry["type"]?.stringValue ?? "",
                             options: entry["options"]?.stringArrayValue ?? [])
        }
    }

    var maskedPaths: [String] { json.value(atPath: ["linux", "maskedPaths"])?.stringArrayValue ?? [] }

    var devicePaths: [String] {
        (json.value(atPath: ["linux", "devices"])?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
    }
}
