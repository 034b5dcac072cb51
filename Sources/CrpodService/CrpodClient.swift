import CrpodArchive
import CrpodEngine
import CrpodLinux

/// Everything the CLI can ask of crpod: answered by the engine in this process (`LocalClient`)
/// or by a daemon over its socket (`RemoteClient`). The CLI prints the same either way.
public protocol CrpodClient: CrpodImageClient {
    func checkHost() async throws -> [CheckFact]
    func createPod(_ request: PodCreateRequest) async throws -> PodSummary
    func listPods() async throws -> [PodSummary]
    func inspectPod(_ reference: String) async throws -> PodSummary
    /// Runs the pod network's CNI CHECK, then inspects the pod.
    func checkPodNetwork(_ reference: String) async throws -> PodSummary
    func removePod(_ reference: String, force: Bool) async throws -> ObjectRef
    func run(_ request: RunRequest) async throws -> ContainerSummary
    func listContainers(all: Bool) async throws -> [ContainerSummary]
    func inspectContainer(_ reference: String) async throws -> ContainerSummary
    func logs(_ reference: String) async throws -> [UInt8]
    func stop(_ reference: String, timeout: Double) async throws -> ObjectRef
    func removeContainer(_ reference: String, force: Bool) async throws -> ObjectRef
    func checkpoint(_ references: [String], _ request: CheckpointRequest) async throws -> [CheckpointOutcome]
    func restore(_ request: RestoreRequest) async throws -> RestoreOutcome
    func checkpointPod(_ reference: String, _ request: PodCheckpointRequest) async throws -> PodCheckpointOutcome
    func restorePod(_ request: PodRestoreRequest) async throws -> PodRestoreOutcome
    func inspectArchive(path: String) async throws -> ArchiveInspection
}

/// The engine in this process.
public struct LocalClient: CrpodClient {
    public let engine: Engine
    public init(engine: Engine) { self.engine = engine }

    public func checkHost() async throws -> [CheckFact] { await engine.checkHost() }

    public func createPod(_ request: PodCreateRequest) async throws -> PodSummary {
        let pod = try await engine.createPod(request)
        return try PodSummary(engine.inspectPod(pod.id))
    }

    public func listPods() async throws -> [PodSummary] {
        await engine.reconcileIfInterrupted()
        return try engine.listPods().map(PodSummary.init)
    }
    public func inspectPod(_ reference: String) async throws -> PodSummary { try PodSummary(engine.inspectPod(reference)) }
    public func checkPodNetwork(_ reference: String) async throws -> PodSummary {
        try await engine.checkNetwork(reference)
        return try PodSummary(engine.inspectPod(reference))
    }

    public func removePod(_ reference: String, force: Bool) async throws -> ObjectRef {
        let pod = try await engine.removePod(reference, force: force)
        return ObjectRef(id: pod.id, name: pod.name)
    }

    public func run(_ request: RunRequest) async throws -> ContainerSummary {
        let record = try await engine.run(request)
        return try await ContainerSummary(engine.inspectContainer(record.id))
    }

    public func listContainers(all: Bool) async throws -> [ContainerSummary] {
        try await engine.listContainers(all: all).map(ContainerSummary.init)
    }

    public func inspectContainer(_ reference: String) async throws -> ContainerSummary {
        try await ContainerSummary(engine.inspectContainer(reference))
    }

    /// A log can be large: read on a thread of its own.
    public func logs(_ reference: String) async throws -> [UInt8] {
        let engine = self.engine
        return try await BlockingThread.run("read logs of \(reference)") { _ in try engine.logs(reference) }
    }

    public func stop(_ reference: String, timeout: Double) async throws -> ObjectRef {
        let record = try await engine.stop(reference, timeout: timeout)
        return ObjectRef(id: record.id, name: record.name)
    }

    public func removeContainer(_ reference: String, force: Bool) async throws -> ObjectRef {
        let record = try await engine.removeContainer(reference, force: force)
        return ObjectRef(id: record.id, name: record.name)
    }

    public func checkpoint(_ references: [String], _ request: CheckpointRequest) async throws -> [CheckpointOutcome] {
        try await engine.checkpoint(references, request)
    }

    public func restore(_ request: RestoreRequest) async throws -> RestoreOutcome { try await engine.restore(request) }
    public func checkpointPod(_ reference: String, _ request: PodCheckpointRequest) async throws -> PodCheckpointOutcome {
        try await engine.checkpointPod(reference, request)
    }
    public func restorePod(_ request: PodRestoreRequest) async throws -> PodRestoreOutcome { try await engine.restorePod(request) }

    public func inspectArchive(path: String) async throws -> ArchiveInspection {
        try await inspectArchive(file: try ArchiveFile.open(path: path))
    }

    /// Streams the opened archive on a thread of its own (never the cooperative pool).
    public func inspectArchive(file: OpenedFile) async throws -> ArchiveInspection {
        try await BlockingThread.run("inspect \(file.path)") { _ in try ArchiveInspector.inspect(file: file).0 }
    }
}
