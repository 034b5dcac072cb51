import CrpodCore

/// The vocabulary shared by `criu dump` and `criu restore` options. Values from CRIU's own
/// vocabularies are string-backed structs with known constants, so an unknown value a newer CRIU
/// accepts can still be passed.

/// `--network-lock`: how CRIU keeps the network namespace quiet while it works. `skip` (CRIU ≥
/// 3.19) is right when the netns belongs to the pod and no TCP connection is dumped.
public struct CRIUNetworkLock: RawRepresentable, Sendable, Hashable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let iptables = CRIUNetworkLock(rawValue: "iptables")
    public static let nftables = CRIUNetworkLock(rawValue: "nftables")
    public static let skip = CRIUNetworkLock(rawValue: "skip")
}

/// `--manage-cgroups=<mode>` (CRIU takes the mode only after `=`: the argument is optional).
public struct CRIUCgroupMode: RawRepresentable, Sendable, Hashable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let none = CRIUCgroupMode(rawValue: "none")
    public static let props = CRIUCgroupMode(rawValue: "props")
    public static let soft = CRIUCgroupMode(rawValue: "soft")
    public static let full = CRIUCgroupMode(rawValue: "full")
    public static let strict = CRIUCgroupMode(rawValue: "strict")
    public static let ignore = CRIUCgroupMode(rawValue: "ignore")
}

/// `-v<N>`: 0 = nothing, 1 = errors, 2 = warnings (CRIU's default), 3 = info + timestamps,
/// 4 = debug (what runc asks for, and what makes a failure explainable).
public struct CRIUVerbosity: RawRepresentable, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let errors = CRIUVerbosity(rawValue: 1)
    public static let warnings = CRIUVerbosity(rawValue: 2)
    public static let info = CRIUVerbosity(rawValue: 3)
    public static let debug = CRIUVerbosity(rawValue: 4)
}

/// A namespace CRIU must not dump, only remember by `key`: `--external <kind>[<inode>]:<key>`.
/// At restore the same key is satisfied by an inherited descriptor on the new namespace.
public struct CRIUExternalNamespace: Sendable, Hashable {
    /// CRIU's name of the kind: `net` or `pid` (the kinds CRIU supports as external).
    public var kind: String
    public var inode: UInt64
    public var key: String

    public init(kind: String, inode: UInt64, key: String) {
        self.kind = kind
        self.inode = inode
        self.key = key
    }

    /// runc's keys (`extRootNetNS`, `extRootPidNS`), kept so images made by either engine
    /// restore with the other.
    public static let netKey = "extRootNetNS"
    public static let pidKey = "extRootPidNS"

    public static func net(inode: UInt64) -> CRIUExternalNamespace { .init(kind: NamespaceKind.net.rawValue, inode: inode, key: netKey) }
    public static func pid(inode: UInt64) -> CRIUExternalNamespace { .init(kind: NamespaceKind.pid.rawValue, inode: inode, key: pidKey) }

    public var argument: String { "\(kind)[\(inode)]:\(key)" }
}

/// A mount CRIU records by `key` instead of dumping it. At dump the mount point (inside the
/// root) is named: `mnt[<mountPoint>]:<key>`; at restore the key is mapped to the source to bind
/// there: `mnt[<key>]:<source>`.
public struct CRIUExternalMount: Sendable, Hashable {
    public var key: String
    /// At dump: the mount point inside the container root. At restore: the host path bound there.
    public var path: String

    public init(key: String, path: String) {
        self.key = key
        self.path = path
    }

    public var dumpArgument: String { "mnt[\(path)]:\(key)" }
    public var restoreArgument: String { "mnt[\(key)]:\(path)" }
}

/// `--cgroup-root [<controller>:]<path>`; no controller = every controller not named otherwise.
/// CRIU calls the cgroup2 hierarchy's controller "" (as /proc/<pid>/cgroup's `0::` line does),
/// so `:<path>` roots the unified hierarchy alone — what runc passes for that line.
public struct CRIUCgroupRoot: Sendable, Hashable {
    public var controller: String?
    public var path: String

    public init(controller: String? = nil, path: String) {
        self.controller = controller
        self.path = path
    }

    /// The unified (cgroup2) hierarchy's root.
    public static func unified(_ path: String) -> CRIUCgroupRoot { CRIUCgroupRoot(controller: "", path: path) }

    public var argument: String { controller.map { "\($0):\(path)" } ?? path }
}

/// A descriptor CRIU finds already open (`--inherit-fd fd[<fd>]:<key>`): the driver opens
/// `source` read-only as `fd` in the CRIU process. `key` is what the image calls the resource:
/// an external namespace key, or `pipe:[<inode>]` for a stdio pipe.
public struct CRIUInheritedFile: Sendable, Hashable {
    public var fd: Int32
    public var key: String
    /// The file to open as `fd` (for example `/proc/<infra>/ns/net`). `nil` = the descriptor is
    /// one of CRIU's own stdio descriptors (0, 1, 2), which the caller provides.
    public var source: String?

    public init(fd: Int32, key: String, source: String?) {
        self.fd = fd
        self.key = key
        self.source = source
    }

    public var argument: String { "fd[\(fd)]:\(key)" }
}

/// `--join-ns <kind>:<path>`: restore into an existing namespace (CRIU joins it; `pid` and
/// `cgroup` cannot be joined, an external `net` namespace needs an inherited descriptor).
public struct CRIUJoinedNamespace: Sendable, Hashable {
    public var kind: String
    public var path: String

    public init(kind: String, path: String) {
        self.kind = kind
        self.path = path
    }

    public var argument: String { "\(kind):\(path)" }
}

/// Where CRIU writes what it did, shared by every verb.
public struct CRIULogging: Sendable, Hashable {
    /// The log file (`-o`). A relative name is relative to the work directory, as in CRIU.
    public var file: String
    public var verbosity: CRIUVerbosity

    public init(file: String, verbosity: CRIUVerbosity = .debug) {
        self.file = file
        self.verbosity = verbosity
    }

    func arguments() -> [String] { ["-o", file, "-v\(verbosity.rawValue)"] }

    /// The log's path: `file` when absolute, else inside `workDirectory`.
    func path(workDirectory: String) -> String {
        file.hasPrefix("/") ? file : workDirectory + "/" + file
    }
}
