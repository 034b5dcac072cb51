import CrpodDrivers
import CrpodEngine
import CrpodLinux

/// The JSON shape of `pod ls`, `pod inspect` and the API's pod endpoints.
public struct PodSummary: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var status: String
    public var shares: [String]
    public var hostname: String?
    public var infraPid: Int32?
    public var cgroupParent: String
    public var cgroupPath: String
    public var namespaces: [NamespaceSummary]
    public var processLabel: String?
    public var mountLabel: String?
    /// The pod's /dev/shm on the host (bound into members in its IPC namespace); nil without one.
    public var shmDirectory: String?
    /// Its size in bytes.
    public var shmSize: UInt64?
    public var containers: [String]
    public var created: String
    /// `none`, `host` or the CNI network's name; the rest is empty unless it is a CNI network.
    public var network: String?
    public var interfaces: [CNIResult.Interface]?
    public var ips: [CNIResult.IPConfig]?
    public var publishedPorts: [CNIPortMapping]?

    public init(_ view: PodView) {
        let pod = view.record
        id = pod.id
        name = pod.name
        status = view.status
        shares = pod.shares
        hostname = pod.hostname
        infraPid = pod.infra?.pid
        cgroupParent = pod.cgroupParent
        cgroupPath = pod.cgroupPath
        namespaces = pod.namespaces.map {
            NamespaceSummary(type: $0.kind.rawValue, path: $0.path, inode: $0.inode, shared: pod.shares.contains($0.kind.rawValue))
        }
        processLabel = pod.processLabel
        mountLabel = pod.mountLabel
        shmDirectory = pod.shmDirectory
        shmSize = pod.shmSize
        containers = view.containers
        created = pod.created
        network = pod.network?.displayName ?? PodNetworkMode.none.rawValue
        interfaces = pod.network?.result?.containerInterfaces ?? []
        ips = pod.network?.result?.containerIPs ?? []
        publishedPorts = pod.network?.publishedPorts ?? []
    }
}

public struct NamespaceSummary: Codable, Sendable, Equatable {
    public var type: String
    public var path: String
    public var inode: UInt64
    public var shared: Bool?
}

/// The JSON shape of `ps`, `inspect` and the API's container endpoints.
public struct ContainerSummary: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var state: String
    public var pid: Int32?
    public var pod: String?
    public var podName: String?
    public var command: [String]
    public var rootfs: String
    public var bundle: String
    public var cgroupPath: String
    public var logPath: String
    public var namespaces: [NamespaceSummary]
    public var created: String

    public init(_ view: ContainerView) {
        let record = view.record
        id = record.id
        name = record.name
        state = view.status
        pid = view.pid
        pod = record.podID
        podName = record.podName
        command = record.command
        rootfs = record.rootfs
        bundle = record.bundle
        cgroupPath = record.cgroupPath
        logPath = record.logPath
        namespaces = view.namespaces.map { NamespaceSummary(type: $0.kind.rawValue, path: $0.path, inode: $0.inode, shared: nil) }
        created = record.created
    }
}

/// What a removal or stop answers: the object's id and name.
public struct ObjectRef: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
}

/// `POST /v1/checkpoint`.
public struct CheckpointCall: Codable, Sendable {
    public var containers: [String]
    public var request: CheckpointRequest
    public init(containers: [String], request: CheckpointRequest) {
        self.containers = containers
        self.request = request
    }
}

/// `POST /v1/archives/inspect`.
public struct ArchivePathCall: Codable, Sendable {
    public var path: String
}

/// The body of every error answer: the message, the HTTP status, and a stable machine code
/// (`restore_refused`, `container_not_running`, …; the README lists them) to branch on.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var status: Int
    public var code: String
}

/// `GET /v1/health`.
public struct Health: Codable, Sendable, Equatable {
    public var status: String
    public var version: String
    public var pid: Int32
    public var jobsInFlight: Int
    public var spoolDepth: Int
}
