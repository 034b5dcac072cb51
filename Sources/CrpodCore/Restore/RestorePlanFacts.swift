/// What the restore planner needs to know about a checkpoint archive. Namespace names are
/// the /proc ones (`net`, `mnt`); the OCI spellings (`network`, `mount`) are accepted too.
public struct ArchivePlanFacts: Sendable, Equatable {
    public var containerID: String
    public var containerName: String
    /// The pod the container was checkpointed in; nil for a container of its own.
    public var podID: String?
    /// Namespaces (ipc, net, uts, pid, cgroup) the container shared with its pod.
    public var sharedNamespaces: Set<String>
    /// Namespaces the container had of its own (spec.dump entries without a path).
    public var privateNamespaces: Set<String>
    /// IDs of containers it depends on, its pod's infra container excluded.
    public var dependencies: [String]
    public var createCommand: [String]
    public var annotations: [String: String]
    /// PIDs inside its PID namespace, from CRIU's pstree image.
    public var checkpointPIDs: [Int32]
    /// The hostname of its UTS namespace at checkpoint time, when known.
    public var hostname: String?
    /// Whether CRIU's ipcns-shm/msg/sem images are in the checkpoint.
    public var hasIPCObjectImages: Bool
    /// Established TCP connections dumped with `--tcp-established` (rule 10).
    public var tcpConnections = ArchiveTCPConnections()
    /// SysV segment ids the tasks have attached (`mm-*.img`, rule 11).
    public var sysvSegmentsAttached: Set<UInt64> = []

    public init(
        containerID: String,
        containerName: String,
        podID: String? = nil,
        sharedNamespaces: Set<String> = [],
        privateNamespaces: Set<String> = [],
        dependencies: [String] = [],
        createCommand: [String] = [],
        annotations: [String: String] = [:],
        checkpointPIDs: [Int32] = [],
        hostname: String? = nil,
        hasIPCObjectImages: Bool = false
    ) {
        self.containerID = containerID
        self.containerName = containerName
        self.podID = podID
        self.sharedNamespaces = sharedNamespaces
        self.privateNamespaces = privateNamespaces
        self.dependencies = dependencies
        self.createCommand = createCommand
        self.annotations = annotations
        self.checkpointPIDs = checkpointPIDs
        self.hostname = hostname
        self.hasIPCObjectImages = hasIPCObjectImages
    }
}

/// What the restore planner needs to know about the target pod.
public struct PodPlanFacts: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The namespaces the pod shares (/proc names, as `ShareList` gives them).
    public var shares: Set<String>
    public var infraPID: Int32?
    public var infraRunning: Bool
    public var cgroupPath: String
    /// The infra process's SELinux label, when it has one.
    public var processLabel: String?
    /// The infra container's SELinux mount label, when it has one.
    public var mountLabel: String?
    public var hostname: String?
    /// PIDs in use in the pod's PID namespace; only meaningful when the pod shares pid.
    public var pidsInUse: Set<Int32>
    /// The pod's addresses (CNI's, a `/prefix` allowed; loopback is implied); [] with no
    /// network of its own but loopback, nil when unknown (the host's network): not checked.
    public var addresses: [String]? = []

    public init(
        id: String,
        name: String,
        shares: Set<String>,
        infraPID: Int32?,
        infraRunning: Bool,
        cgroupPath: String,
        processLabel: String? = nil,
        mountLabel: String? = nil,
        hostname: String? = nil,
        pidsInUse: Set<Int32> = []
    ) {
        self.id = id
        self.name = name
        self.shares = shares
        self.infraPID = infraPID
        self.infraRunning = infraRunning
        self.cgroupPath = cgroupPath
        self.processLabel = processLabel
        self.mountLabel = mountLabel
        self.hostname = hostname
        self.pidsInUse = pidsInUse
    }
}

/// What the restore planner needs to know about the host and its tools.
public struct HostPlanFacts: Sendable, Equatable {
    /// 10000·major + 100·minor + sub; nil when CRIU's version is unknown.
    public var criuVersion: Int?
    public var runtimePath: String
    public var runtimeSupportsPodRestore: Bool
    public var selinuxEnabled: Bool
    public var existingContainerNames: Set<String>
    /// The cgroup parent of containers restored outside a pod.
    public var cgroupParent: String

    public init(
        criuVersion: Int?,
        runtimePath: String,
        runtimeSupportsPodRestore: Bool,
        selinuxEnabled: Bool,
        existingContainerNames: Set<String> = [],
        cgroupParent: String
    ) {
        self.criuVersion = criuVersion
        self.runtimePath = runtimePath
        self.runtimeSupportsPodRestore = runtimeSupportsPodRestore
        self.selinuxEnabled = selinuxEnabled
        self.existingContainerNames = existingContainerNames
        self.cgroupParent = cgroupParent
    }
}

/// What the user asked for.
public struct RestorePlanOptions: Sendable, Equatable {
    /// What the user typed for `--pod` (used in messages); nil without `--pod`.
    /// The planner looks at `pod` only when this is set.
    public var podReference: String?
    /// `--name`; nil keeps the archive's name and ID.
    public var newName: String?
    /// A fresh container ID from the caller, used only together with `newName`.
    public var newID: String
    /// `--allow-private-pid`: a checkpoint with a private PID namespace may go into a pod
    /// that shares its PID namespace, and gets a PID namespace of its own there.
    public var allowPrivatePIDInSharedPod: Bool
    /// True when `--pod` was given but no such pod exists (`pod` is nil then).
    public var podLookupFailed: Bool
    /// A whole-pod restore's first member: the new pod's IPC namespace is empty, and this
    /// member's images carry the old pod's SysV objects (CRIU dumps the shared namespace
    /// whole with each member), so CRIU re-creates them there; later members drop theirs.
    public var carriesPodIPC = false
    /// A later member of a whole-pod restore whose tasks had SysV segments of the pod
    /// attached: the carrier re-created them at their old ids, and this member's mappings
    /// are taken out of its images and attached again before its tasks run.
    public var reattachesPodSysVShm = false
    /// `--tcp-established`: true restores established TCP connections, false refuses an archive
    /// holding some; nil decides from the archive (the spool, an API request without the field).
    public var tcpEstablished: Bool?

    public init(
        podReference: String? = nil,
        newName: String? = nil,
        newID: String,
        allowPrivatePIDInSharedPod: Bool = false,
        podLookupFailed: Bool = false
    ) {
        self.podReference = podReference
        self.newName = newName
        self.newID = newID
        self.allowPrivatePIDInSharedPod = allowPrivatePIDInSharedPod
        self.podLookupFailed = podLookupFailed
    }
}
