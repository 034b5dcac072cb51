import CShims

/// A Linux namespace type. String-backed so values from outside (OCI specs, podman
/// configs) round-trip even when crpod does not know them; the known kinds are constants
/// and `NamespaceKind.table` is the one place their names live.
public struct NamespaceKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The name under /proc/<pid>/ns/ (`net`, `mnt`, ...).
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let ipc = NamespaceKind(rawValue: "ipc")
    public static let net = NamespaceKind(rawValue: "net")
    public static let pid = NamespaceKind(rawValue: "pid")
    public static let uts = NamespaceKind(rawValue: "uts")
    public static let cgroup = NamespaceKind(rawValue: "cgroup")
    public static let mnt = NamespaceKind(rawValue: "mnt")
    public static let user = NamespaceKind(rawValue: "user")
    public static let time = NamespaceKind(rawValue: "time")

    /// Facts about each known kind, in the order crpod lists them.
    public struct Facts: Sendable {
        public let kind: NamespaceKind
        /// The OCI runtime-spec `linux.namespaces[].type` (`network`, `mount`, ...).
        public let ociType: String
        /// How podman and crpod name it in messages (`network`, `IPC`, `PID`, ...).
        public let displayName: String
        /// The CLONE_NEW* flag.
        public let cloneFlag: Int32
        /// Whether a pod can share it with its members.
        public let podShareable: Bool
    }

    public static let table: [Facts] = [
        Facts(kind: .ipc, ociType: "ipc", displayName: "IPC", cloneFlag: crpod_clone_newipc, podShareable: true),
        Facts(kind: .net, ociType: "network", displayName: "network", cloneFlag: crpod_clone_newnet, podShareable: true),
        Facts(kind: .pid, ociType: "pid", displayName: "PID", cloneFlag: crpod_clone_newpid, podShareable: true),
        Facts(kind: .uts, ociType: "uts", displayName: "UTS", cloneFlag: crpod_clone_newuts, podShareable: true),
        Facts(kind: .cgroup, ociType: "cgroup", displayName: "cgroup", cloneFlag: crpod_clone_newcgroup, podShareable: true),
        Facts(kind: .mnt, ociType: "mount", displayName: "mount", cloneFlag: crpod_clone_newns, podShareable: false),
        Facts(kind: .user, ociType: "user", displayName: "user", cloneFlag: crpod_clone_newuser, podShareable: false),
        Facts(kind: .time, ociType: "time", displayName: "time", cloneFlag: crpod_clone_newtime, podShareable: false),
    ]

    public static var known: [NamespaceKind] { table.map(\.kind) }
    public static var podShareable: [NamespaceKind] { table.filter(\.podShareable).map(\.kind) }

    public var facts: Facts? { Self.table.first { $0.kind == self } }
    public var ociType: String { facts?.ociType ?? rawValue }
    public var displayName: String { facts?.displayName ?? rawValue }
    public var description: String { rawValue }

    /// The kind for an OCI `type` (`network` → net); unknown types keep their name.
    public init(ociType: String) {
        self = Self.table.first { $0.ociType == ociType }?.kind ?? NamespaceKind(rawValue: ociType)
    }

    /// `/proc/<pid>/ns/<name>`.
    public func procPath(pid: Int32, procRoot: String = "/proc") -> String {
        "\(procRoot)/\(pid)/ns/\(rawValue)"
    }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
