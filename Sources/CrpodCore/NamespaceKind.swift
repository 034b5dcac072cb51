/// A Linux namespace type: the one table of namespace names every layer uses. String-backed
/// so values from outside (OCI specs, podman configs) round-trip even when crpod does not
/// know them; the known kinds are constants and `NamespaceKind.table` is the one place their
/// names and pod rules live. CrpodLinux adds what needs the kernel (clone flags, /proc paths).
public struct NamespaceKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The name under /proc/<pid>/ns/ (`net`, `mnt`, ...), which is also the pod share name.
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

    /// Facts about each known kind, in the order crpod lists and sorts them.
    public struct Facts: Sendable {
        public let kind: NamespaceKind
        /// The OCI runtime-spec `linux.namespaces[].type` (`network`, `mount`, ...).
        public let ociType: String
        /// How podman and crpod name it in messages (`network`, `IPC`, `PID`, ...).
        public let displayName: String
        /// podman's checkpoint config key for the container owning a shared one (`netNsCtr`).
        public let podmanOwnerKey: String?
        /// Whether a pod can share it with its members.
        public let podShareable: Bool
        /// Whether a pod shares it when `--share` is not given.
        public let sharedByDefault: Bool
        /// Whether an imported spec may join it by path (else it would be the host's or
        /// another container's namespace).
        public let joinableByPath: Bool
    }

    public static let table: [Facts] = [
        Facts(kind: .ipc, ociType: "ipc", displayName: "IPC", podmanOwnerKey: "ipcNsCtr", podShareable: true, sharedByDefault: true, joinableByPath: true),
        Facts(kind: .net, ociType: "network", displayName: "network", podmanOwnerKey: "netNsCtr", podShareable: true, sharedByDefault: true, joinableByPath: true),
        Facts(kind: .pid, ociType: "pid", displayName: "PID", podmanOwnerKey: "pidNsCtr", podShareable: true, sharedByDefault: false, joinableByPath: true),
        Facts(kind: .uts, ociType: "uts", displayName: "UTS", podmanOwnerKey: "utsNsCtr", podShareable: true, sharedByDefault: true, joinableByPath: true),
        Facts(kind: .cgroup, ociType: "cgroup", displayName: "cgroup", podmanOwnerKey: "cgroupNsCtr", podShareable: true, sharedByDefault: false, joinableByPath: true),
        Facts(kind: .mnt, ociType: "mount", displayName: "mount", podmanOwnerKey: nil, podShareable: false, sharedByDefault: false, joinableByPath: false),
        Facts(kind: .user, ociType: "user", displayName: "user", podmanOwnerKey: nil, podShareable: false, sharedByDefault: false, joinableByPath: false),
        Facts(kind: .time, ociType: "time", displayName: "time", podmanOwnerKey: nil, podShareable: false, sharedByDefault: false, joinableByPath: false),
    ]

    public static var known: [NamespaceKind] { table.map(\.kind) }
    /// The kinds a pod can share, in table order.
    public static var podShareable: [NamespaceKind] { table.filter(\.podShareable).map(\.kind) }
    /// What a pod shares when not told (`ipc`, `net`, `uts`), in table order.
    public static var podDefault: [NamespaceKind] { table.filter(\.sharedByDefault).map(\.kind) }
    /// The kinds an imported spec may join by path, in table order.
    public static var joinableByPath: [NamespaceKind] { table.filter(\.joinableByPath).map(\.kind) }

    public var facts: Facts? { Self.table.first { $0.kind == self } }
    public var ociType: String { facts?.ociType ?? rawValue }
    public var displayName: String { facts?.displayName ?? rawValue }
    public var description: String { rawValue }

    /// The kind for an OCI `type` (`network` → net); unknown types keep their name.
    public init(ociType: String) {
        self = Self.table.first { $0.ociType == ociType }?.kind ?? NamespaceKind(rawValue: ociType)
    }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
