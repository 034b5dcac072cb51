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
    /// The pod's /dev/shm (a directory on its own tmpfs, see `createPodShm`), bound into every
    /// member that joins its IPC namespace; nil when the pod does not share IPC, and in records
    /// written before pods had one (members then get a private /dev/shm).
    public var shmDirectory: String? = nil
    /// Its size in bytes (the tmpfs's `size=`).
    public var shmSize: UInt64? = nil
    /// What made the pod when not a plain `pod create`: `spool sha256:<hex>` for a whole-pod
    /// archive the spool restored (how a restart tells its own pod from one of the same name).
    public var origin: String? = nil

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
    /// The store image whose tree is `rootfs` (run --image, or a restore that found its image);
    /// nil for a directory given with --rootfs.
    public var image: ImageUse? = nil
}

/// Which store image a container runs on: what config.dump records as podman's
/// `rootfsImageName` / `rootfsImageID`.
public struct ImageUse: Codable, Sendable, Equatable {
    public var name: String?
    /// The config digest's hex (podman's image ID).
    public var id: String

    public init(name: String?, id: String) {
        self.name = name
        self.id = id
    }

    init(_ record: ImageRecord, asked: String?) {
        let wanted = asked.flatMap { try? ImageReference.parse($0) }
        let named = wanted.flatMap { wanted in record.names.first { (try? ImageReference.parse($0))?.matches(wanted) == true } }
        self.init(name: named ?? record.names.first, id: record.id.hex)
    }
}
