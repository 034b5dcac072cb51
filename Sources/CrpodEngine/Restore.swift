import CrpodArchive
import CrpodCore
import CrpodLinux

public struct RestoreRequest: Sendable, Codable {
    /// `--import FILE`; nil restores the in-place checkpoint of `container`.
    public var importPath: String?
    /// `crpod restore NAME` (a checkpoint kept in the container's directory).
    public var container: String?
    /// `--pod` (name, id or unique id prefix).
    public var pod: String?
    /// `--name`: a new name and id, so one archive can be restored many times.
    public var name: String?
    /// `--rootfs`: the base rootfs (needed for podman archives, whose base is an image).
    public var rootfs: String?
    public var ignoreRootfs = false
    /// `--tcp-established`: true restores established TCP connections, false refuses an
    /// archive holding some; nil (the spool, an API request without the field) restores
    /// them exactly when the archive holds some and the planner allows it (rule 10).
    public var tcpEstablished: Bool?
    public var fileLocks = false
    public var keep = false
    /// `--allow-private-pid`: a private-PID checkpoint may go into a PID-sharing pod.
    public var allowPrivatePID = false
    /// Checked on the final spec before any process starts (the daemon sets it; nil: none).
    public var policy: RestorePolicy?
    /// The archive, already opened and checked by the caller (the daemon's API and spool):
    /// the restore reads this fd and never opens `importPath` again. nil: the engine opens
    /// `importPath` itself (following symlinks: the root CLI's own path).
    public var archiveFile: OpenedFile?
    /// `--trust-archive` (root CLI only): skip the image rule, as podman does. Never on the wire.
    public var trustArchive = false
    /// A whole-pod restore's member: left stopped when the engine can, resumed with the others
    /// once every member is back (`Engine.restorePod`). Never on the wire.
    var leaveStopped = false

    /// The wire form leaves the policy and `trustArchive` out: a client never chooses its own.
    enum CodingKeys: String, CodingKey {
        case importPath, container, pod, name, rootfs, ignoreRootfs, tcpEstablished, fileLocks, keep, allowPrivatePID
    }

    public init(importPath: String? = nil, container: String? = nil) {
        self.importPath = importPath
        self.container = container
    }

    func validate() throws {
        switch (importPath, container) {
        case (nil, nil):
            throw EngineError.invalidInput(what: "restore", detail: "name a checkpointed container or pass --import FILE")
        case (.some, .some):
            throw EngineError.invalidInput(what: "restore", detail: "--import and a container name exclude each other")
        case let (path?, nil):
            guard archiveFile != nil || (path.hasPrefix("/") && Files.exists(path)) else {
                throw EngineError.invalidInput(what: "--import", detail: "archive \(path) does not exist")
            }
        case (nil, .some):
            if pod != nil || name != nil || rootfs != nil {
                throw EngineError.invalidInput(what: "restore", detail: "--pod, --name and --rootfs need --import")
            }
        }
        if let rootfs, !(rootfs.hasPrefix("/") && Files.isDirectory(rootfs)) {
            throw EngineError.rootfsMissing(path: rootfs)
        }
    }
}

/// What one restore did, with podman's statistics keys.
public struct RestoreOutcome: Sendable, Codable {
    public var id: String
    public var name: String
    public var podID: String?
    public var podName: String?
    /// Microseconds.
    public var runtimeRestoreDuration: UInt64
    public var criuStatistics: RestoreCRIUStatistics?
    public var notes: [String]
}

public struct RestoreCRIUStatistics: Sendable, Codable {
    public var forkingTime: UInt64
    public var restoreTime: UInt64
    public var pagesRestored: UInt64

    enum CodingKeys: String, CodingKey {
        case forkingTime = "forking_time", restoreTime = "restore_time", pagesRestored = "pages_restored"
    }
}

extension Engine {
    /// Restores a checkpoint archive (into a pod with `--pod`) or a checkpoint kept in place.
    /// Every problem the plan finds is reported together; any failure leaves the archive as it
    /// was and nothing behind (runtime state, cgroup directories, mounts, directories, record).
    public func restore(_ request: RestoreRequest) async throws -> RestoreOutcome {
        try request.validate()
        if let path = request.importPath { return try await restoreImport(request, path: path) }
        return try await locked { try await restoreInPlace(try store.container(request.container ?? ""), request) }
    }
}
