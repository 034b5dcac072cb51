/// Everything one restore will do, decided before anything is touched: where the container
/// lives, the final spec (the plan's patch plus this host's rlimit ceilings), the edits to
/// CRIU's images, the engine's options and the undo steps in the order the executor registers
/// them. Pure: the engine's executor runs it, tests read it.
public struct RestoreRecipe: Sendable, Equatable {
    public var plan: RestorePlan
    public var layout: RestoreContainerLayout
    public var imageEdits: [RestoreImageEdit]
    public var engine: RestoreEngineOptions
    /// OCI types the container joined by path outside any pod (podman's /run/netns/...): runc
    /// made them external at checkpoint, so a namespace holder must hand in fresh ones.
    public var heldNamespaces: [String]
    /// This host's hard rlimits: the spec's are lowered to them (root may lack CAP_SYS_RESOURCE).
    public var rlimitCeilings: [String: UInt64]
    /// In registration order; a failure undoes the registered ones in reverse.
    public var undo: [RestoreUndo]

    /// The archive's spec patched by the plan (namespaces, cgroup, labels, annotations, root).
    public func patchedSpec(_ original: OCISpec) -> OCISpec {
        original.restored(by: plan, rootPath: layout.rootfs)
    }

    /// The undo step of `stage`; nil when the recipe has no such stage.
    public func undo(for stage: RestoreStage) -> RestoreUndo? { undo.first { $0.stage == stage } }
}

/// What the recipe needs besides the plan: facts of the archive and of this host, and the
/// request's options.
public struct RestoreRecipeInput: Sendable, Equatable {
    public var containerDirectory: String
    /// Names in the checkpoint's image directory.
    public var imageNames: [String]
    /// OCI types the archive's spec joins by path.
    public var joinedByPath: Set<String>
    public var rlimitCeilings: [String: UInt64]
    public var tcpEstablished: Bool
    public var fileLocks: Bool
    public var timeLimit: Duration?

    public init(containerDirectory: String, imageNames: [String], joinedByPath: Set<String> = [],
                rlimitCeilings: [String: UInt64] = [:], tcpEstablished: Bool = false, fileLocks: Bool = false,
                timeLimit: Duration? = nil) {
        self.containerDirectory = containerDirectory
        self.imageNames = imageNames
        self.joinedByPath = joinedByPath
        self.rlimitCeilings = rlimitCeilings
        self.tcpEstablished = tcpEstablished
        self.fileLocks = fileLocks
        self.timeLimit = timeLimit
    }
}

extension RestoreRecipe {
    /// The recipe of an import: the plan, applied to a fresh container directory.
    public static func make(plan: RestorePlan, input: RestoreRecipeInput) -> RestoreRecipe {
        let layout = RestoreContainerLayout(directory: input.containerDirectory)
        let held = plan.podID == nil ? [OCINamespaceType.network].filter { input.joinedByPath.contains($0) } : []
        var engine = RestoreEngineOptions(tcpEstablished: input.tcpEstablished, fileLocks: input.fileLocks, timeLimit: input.timeLimit)
        engine.lsmProfile = plan.lsmProfile
        engine.lsmMountContext = plan.lsmMountContext
        var undo = [RestoreUndo(stage: .containerDirectory, action: .removeTree(layout.directory)),
                    RestoreUndo(stage: .rootfsMount, action: .unmount(layout.rootfs))]
        if !held.isEmpty { undo.append(RestoreUndo(stage: .namespaceHolder, action: .stopNamespaceHolder)) }
        undo.append(RestoreUndo(stage: .runtime, action: .deleteRuntime(id: plan.containerID, cgroup: plan.cgroupsPath)))
        return RestoreRecipe(
            plan: plan, layout: layout,
            imageEdits: RestoreImageEdit.edits(imageNames: input.imageNames, dropIPCObjects: plan.dropIPCObjectImages,
                                               hostname: plan.keepTargetHostname, detachSysVShm: plan.reattachSysVShm),
            engine: engine, heldNamespaces: held, rlimitCeilings: input.rlimitCeilings, undo: undo)
    }
}

/// The paths of a restored container under its directory.
public struct RestoreContainerLayout: Sendable, Equatable {
    public var directory: String
    public init(directory: String) { self.directory = directory }

    public var bundle: String { directory + "/bundle" }
    public var config: String { bundle + "/config.json" }
    public var pidFile: String { bundle + "/pid" }
    public var runtimeLog: String { bundle + "/runtime.log" }
    public var upper: String { directory + "/upper" }
    public var work: String { directory + "/work" }
    public var rootfs: String { directory + "/rootfs" }
    public var log: String { directory + "/ctr.log" }
    /// CRIU's work directory (its restore.log and stats-restore).
    public var restoreWork: String { directory + "/restore-work" }
}

/// One edit of CRIU's image directory before the restore.
public enum RestoreImageEdit: Sendable, Equatable {
    /// Remove a SysV object image: CRIU would re-create every object of the shared IPC
    /// namespace, other members' included ("Failed to create shm set: File exists").
    case remove(image: String)
    /// Rewrite a UTS image's nodename: CRIU writes it into the joined UTS namespace.
    case setHostname(image: String, hostname: String)
    /// Take a task's SysV mappings out of its mm image (CRIU maps only segments it created
    /// itself); the engine attaches them again (`RestoreEngineOptions.sysvReattachments`).
    case detachSysVShm(image: String)

    /// The edits for a restore into a pod (`dropIPCObjects` when IPC is joined, `hostname`
    /// when UTS is, `detachSysVShm` for a later member of a whole-pod restore), in a stable order.
    public static func edits(imageNames: [String], dropIPCObjects: Bool, hostname: String?, detachSysVShm: Bool = false) -> [RestoreImageEdit] {
        var edits: [RestoreImageEdit] = dropIPCObjects ? CRIUIPCImages.objectImages(in: imageNames).sorted().map { .remove(image: $0) } : []
        if let hostname {
            edits += imageNames.filter { $0.hasPrefix("utsns-") && $0.hasSuffix(".img") }.sorted()
                .map { .setHostname(image: $0, hostname: hostname) }
        }
        if detachSysVShm {
            edits += imageNames.filter { CRIUMemoryMap.pid(ofImage: $0) != nil }.sorted().map { .detachSysVShm(image: $0) }
        }
        return edits
    }
}

/// The options a container engine restores with (runc's flags today; a native CRIU engine
/// takes the same decisions).
public struct RestoreEngineOptions: Sendable, Equatable {
    public var tcpEstablished: Bool
    public var fileLocks: Bool
    /// How CRIU treats the dumped cgroups: `soft` (crpod places the container itself).
    public var manageCgroupsMode: String?
    /// `selinux:<label>` from the pod's infra when SELinux is on.
    public var lsmProfile: String?
    public var lsmMountContext: String?
    /// The engine (and its CRIU) is killed when the restore has not ended by then.
    public var timeLimit: Duration?
    /// SysV attachments taken out of the images (`RestoreImageEdit.detachSysVShm`): the
    /// engine restores the tasks stopped, attaches these, then lets them run.
    public var sysvReattachments: [CRIUSysVAttachment] = []
    /// Leave the restored tasks stopped (SIGSTOP) for the caller to resume, when the engine
    /// can (a whole-pod restore resumes all members at once).
    public var leaveStopped = false

    public init(tcpEstablished: Bool = false, fileLocks: Bool = false, manageCgroupsMode: String? = "soft",
                lsmProfile: String? = nil, lsmMountContext: String? = nil, timeLimit: Duration? = nil) {
        self.tcpEstablished = tcpEstablished
        self.fileLocks = fileLocks
        self.manageCgroupsMode = manageCgroupsMode
        self.lsmProfile = lsmProfile
        self.lsmMountContext = lsmMountContext
        self.timeLimit = timeLimit
    }
}

/// The stages of applying a recipe that create something to undo.
public enum RestoreStage: String, Sendable, Equatable, CaseIterable {
    case containerDirectory, rootfsMount, namespaceHolder, runtime
}

public struct RestoreUndo: Sendable, Equatable {
    public var stage: RestoreStage
    public var action: RestoreUndoAction
}

public enum RestoreUndoAction: Sendable, Equatable {
    case removeTree(String)
    case unmount(String)
    /// Stop the namespace holder the executor started (its PID is known only then).
    case stopNamespaceHolder
    /// Delete the engine's state of the container, kill what is left in its cgroup.
    case deleteRuntime(id: String, cgroup: String)
}

extension OCISpec {
    /// The spec's rlimits lowered to `ceilings` (type → hard limit); others kept.
    public func clampingRLimits(to ceilings: [String: UInt64]) -> OCISpec {
        guard let limits = json.value(atPath: ["process", "rlimits"])?.arrayValue else { return self }
        let clamped: [JSONValue] = limits.map { entry in
            guard case var .object(limit) = entry, let type = limit["type"]?.stringValue, let max = ceilings[type] else { return entry }
            for key in ["soft", "hard"] {
                if let value = limit[key]?.uint64Value, value > max { limit[key] = JSONValue(max) }
            }
            return .object(limit)
        }
        var spec = self
        spec.json.setValue(.array(clamped), atPath: ["process", "rlimits"])
        return spec
    }
}
