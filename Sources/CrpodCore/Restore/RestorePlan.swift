/// Annotation keys the restore planner writes. The same keys a created container gets.
public enum RestoreAnnotationKey {
    public static let sandboxID = "io.kubernetes.cri-o.SandboxID"
    public static let podName = "io.crpod.pod.name"
    public static let containerName = "io.crpod.container.name"
}

/// Everything the engine needs to restore a checkpoint, decided up front.
public struct RestorePlan: Sendable, Equatable {
    public var containerName: String
    public var containerID: String
    /// The target pod; nil for a restore outside a pod.
    public var podID: String?
    public var podName: String?
    /// OCI type (`network`) → namespace path of the pod's infra (`/proc/<pid>/ns/net`).
    public var joinNamespaces: [String: String]
    /// OCI types to create new, in `OCINamespaceType.all` order.
    public var privateNamespaces: [String]
    public var cgroupsPath: String
    /// `selinux:<label>` for `runc restore --lsm-profile`; nil to pass none.
    public var lsmProfile: String?
    /// For `runc restore --lsm-mount-context`; nil to pass none.
    public var lsmMountContext: String?
    public var annotations: [String: String]
    public var createCommand: [String]
    /// Remove CRIU's ipcns-shm/msg/sem images before restoring: the checkpoint joins a
    /// shared IPC namespace whose objects CRIU would otherwise re-create ("File exists").
    public var dropIPCObjectImages: Bool
    /// The joined UTS namespace's hostname, which CRIU overwrites with the checkpoint's:
    /// the engine must put it back (or patch the utsns image). Nil when UTS is not joined.
    public var keepTargetHostname: String?
    /// Restore established TCP connections (`--tcp-established`), as rule 10 decided.
    public var tcpEstablished = false
    /// Take the SysV mappings out of the mm images, restore the tasks stopped and attach the
    /// segments again (a whole-pod restore's later member sharing the pod's segments).
    public var reattachSysVShm = false
    /// Decisions worth telling the user, one sentence each.
    public var notes: [String]

    public init(
        containerName: String,
        containerID: String,
        podID: String? = nil,
        podName: String? = nil,
        joinNamespaces: [String: String] = [:],
        privateNamespaces: [String] = [],
        cgroupsPath: String,
        lsmProfile: String? = nil,
        lsmMountContext: String? = nil,
        annotations: [String: String] = [:],
        createCommand: [String] = [],
        dropIPCObjectImages: Bool = false,
        keepTargetHostname: String? = nil,
        notes: [String] = []
    ) {
        self.containerName = containerName
        self.containerID = containerID
        self.podID = podID
        self.podName = podName
        self.joinNamespaces = joinNamespaces
        self.privateNamespaces = privateNamespaces
        self.cgroupsPath = cgroupsPath
        self.lsmProfile = lsmProfile
        self.lsmMountContext = lsmMountContext
        self.annotations = annotations
        self.createCommand = createCommand
        self.dropIPCObjectImages = dropIPCObjectImages
        self.keepTargetHostname = keepTargetHostname
        self.notes = notes
    }
}
