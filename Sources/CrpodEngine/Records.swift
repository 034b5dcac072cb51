import CrpodCore
import CrpodDrivers
import CrpodLinux

/// A pod as crpod stores it.
public struct PodRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// /proc names of the namespaces members share: ipc, net, uts, pid, cgroup.
    public var shares: [String]
    public var hostname: String?
    public var cgroupParent: String
    public var cgroupPath: String
    public var infra: ProcessIdentity?
    public var namespaces: [NamespaceRef]
    public var processLabel: String?
    public var mountLabel: String?
    public var created: String
    /// nil in records written before pods had networks: a lo-only netns (or none shared).
    public var network: PodNetwork? = nil

    public var sharedKinds: [NamespaceKind] { shares.map { NamespaceKind(rawValue: $0) } }
}

/// A container as crpod stores it. Its live state comes from the runtime.
public struct ContainerRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var podID: String?
    public var podName: String?
    /// The rootfs given to `run` (the overlay's lower directory).
    public var rootfs: String
    public var bundle: String
    public var overlay: Mounts.Overlay
    public var cgroupPath: String
    public var command: [String]
    public var env: [String]
    public var workdir: String
    public var logPath: String
    public var created: String
    /// crpod's own view: created, running, exited; refined by the runtime's state.
    public var state: String
    /// A crpod-pause holding namespaces the container joins by path outside a pod (a restored
    /// standalone checkpoint whose network namespace was external); stopped with the container.
    public var namespaceHolder: ProcessIdentity? = nil
    /// The engine that owns the running tree (started or restored it); nil in records written
    /// before engines could be chosen = runc.
    public var engine: EngineKind? = nil
}
