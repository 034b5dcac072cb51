#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodDrivers
import CrpodLinux

public struct CheckpointRequest: Sendable, Codable {
    public var export: String?
    public var compression: CompressionMethod?
    public var leaveRunning = false
    public var tcpEstablished = false
    public var fileLocks = false
    public var ignoreRootfs = false
    public var keep = false
    /// Bytes written to the archive so far (for progress output).
    public var progress: (@Sendable (UInt64) -> Void)?
    /// The export's directory, already opened (and confined) by the caller — the daemon's API:
    /// the archive is written through this fd, never by re-resolving `export`'s directory.
    public var exportDirectory: OpenDirectory?

    enum CodingKeys: String, CodingKey {
        case export, compression, leaveRunning, tcpEstablished, fileLocks, ignoreRootfs, keep
    }

    public init(export: String? = nil, compression: CompressionMethod? = nil) {
        self.export = export
        self.compression = compression
    }
}

/// What one checkpoint did, with podman's statistics keys.
public struct CheckpointOutcome: Sendable, Codable {
    public var id: String
    public var name: String
    public var archive: String?
    public var imagesKept: String?
    /// Microseconds.
    public var runtimeCheckpointDuration: UInt64
    public var criuStatistics: CheckpointCRIUStatistics?
}

public struct CheckpointCRIUStatistics: Sendable, Codable {
    public var freezingTime: UInt64
    public var frozenTime: UInt64
    public var memdumpTime: UInt64
    public var memwriteTime: UInt64
    public var pagesScanned: UInt64
    public var pagesWritten: UInt64

    enum CodingKeys: String, CodingKey {
        case freezingTime = "freezing_time", frozenTime = "frozen_time", memdumpTime = "memdump_time"
        case memwriteTime = "memwrite_time", pagesScanned = "pages_scanned", pagesWritten = "pages_written"
    }
}

extension CheckpointRequest {
    /// podman's refusals for option combinations, checked before anything is touched.
    func validate(containerCount: Int) throws {
        if export == nil && compression != nil {
            throw EngineError.invalidInput(what: "--compress", detail: "--compress can only be used with --export")
        }
        if export == nil && ignoreRootfs {
            throw EngineError.invalidInput(what: "--ignore-rootfs", detail: "--ignore-rootfs can only be used with --export")
        }
        if export != nil && containerCount != 1 {
            throw EngineError.invalidInput(what: "--export", detail: "--export works with exactly one container")
        }
        if let export, !export.hasPrefix("/") {
            throw EngineError.invalidInput(what: "--export", detail: "\"\(export)\" must be an absolute path")
        }
    }
}

/// Where a container's checkpoint files live: on disk in the container directory, or — when an
/// export is all the images are for — in a private tmpfs (`scratch`, see `prepareCheckpointPaths`).
struct CheckpointPaths: Sendable {
    let containerDirectory: String
    let images: String
    let work: String
    /// The tmpfs mount point holding `images` and `work`; nil when they are on disk.
    let scratch: String?
    /// rootfs-diff.tar is built on disk beside the container: an upper directory can outgrow any memory bound.
    var rootfsDiffDirectory: String { containerDirectory + "/checkpoint-work" }

    init(containerDirectory: String) {
        self.containerDirectory = containerDirectory
        images = containerDirectory + "/checkpoint"
        work = containerDirectory + "/checkpoint-work"
        scratch = nil
    }

    init(scratch: String, containerDirectory: String) {
        self.containerDirectory = containerDirectory
        images = scratch + "/checkpoint"
        work = scratch + "/work"
        self.scratch = scratch
    }
}

extension Engine {
    public func checkpoint(_ references: [String], _ request: CheckpointRequest) async throws -> [CheckpointOutcome] {
        try request.validate(containerCount: references.count)
        return try await locked {
            var outcomes: [CheckpointOutcome] = []
            for reference in references {
                let record = try store.container(reference)
                outcomes.append(try await withRollback("checkpoint \(record.name)") { rollback in
                    try await checkpointLocked(record, request, rollback: rollback)
                })
            }
            return outcomes
        }
    }

    private func checkpointLocked(_ record: ContainerRecord, _ request: CheckpointRequest, rollback: Rollback) async throws -> CheckpointOutcome {
        var record = record
        let owner = try containerEngine(for: record)
        let state = try await step("runtime state \(record.name)") { try await owner.state(id: record.id, logPath: nil) }
        guard let state, state.status.rawValue == "running" else {
            throw EngineError.containerNotRunning(name: record.name, state: state?.status.rawValue ?? "exited")
        }
        let dumper = try await checkpointEngine(owner: owner)
        let paths = try prepareCheckpointPaths(record, request: request, rollback: rollback)
        var options = CheckpointOptions(imagePath: paths.images, workPath: paths.work, leaveRunning: request.leaveRunning,
                                        tcpEstablished: request.tcpEstablished, fileLocks: request.fileLocks)
        options.manageCgroupsMode = "soft"
        options.timeLimit = settings.runtimeTimeLimit
        if dumper.kind != owner.kind { options.startedElsewhere = StartedContainer(pid: Int32(state.pid), bundle: record.bundle) }
        try journalNetworkLockRemoval(podID: record.podID, rollback: rollback)
        let started = ContinuousClock.now
        try await dump(record, engine: dumper, options: options, paths: paths, keep: request.keep)
        let runtimeDuration = microseconds(since: started)
        FaultPoint.checkpointAfterDump.hit()
        if dumper.kind != owner.kind && !request.leaveRunning {
            // The tree is gone; the engine that started it still has state of it.
            try await step("remove the \(owner.kind.rawValue) state of \(record.name)") { try await owner.delete(id: record.id, force: true, logPath: nil) }
        }
        var outcome = CheckpointOutcome(id: record.id, name: record.name, archive: nil, imagesKept: paths.images,
                                        runtimeCheckpointDuration: runtimeDuration, criuStatistics: readDumpStatistics(paths.work))
        if let export = request.export {
            do { try await exportArchive(record, paths: paths, to: export, request: request) } catch {
                // The runtime already checkpointed (and, without -R, stopped) the container:
                // keep its images (off the tmpfs) so `crpod restore NAME` still works, and say so.
                let kept = keepCheckpointImages(paths)
                record.state = request.leaveRunning ? "running" : (kept == nil ? "exited" : "checkpointed")
                try? store.save(record)
                let keptNote = kept.map { "the checkpoint is kept in \($0)" } ?? "the checkpoint images could not be kept"
                throw EngineError.step("export \(record.name) to \(export) (\(keptNote))", cause: error)
            }
            outcome.archive = export
        }
        if !request.leaveRunning { try? cgroups().remove(record.cgroupPath) }
        if !request.keep {
            try? Files.removeTree(paths.work)
            if request.export != nil {
                try? Files.removeTree(paths.images)
                outcome.imagesKept = nil
            }
        }
        record.state = request.leaveRunning ? "running" : (outcome.imagesKept == nil ? "exited" : "checkpointed")
        try store.save(record)
        logger.info("container checkpointed", metadata: ["container": "\(record.name)", "archive": "\(request.export ?? "")"])
        return outcome
    }

    /// `runtime checkpoint`. On failure the container keeps running and its partial images go
    /// (unless `keep`): the error already quotes the CRIU log.
    func dump(_ record: ContainerRecord, engine: any ContainerEngine, options: CheckpointOptions, paths: CheckpointPaths, keep: Bool) async throws {
        do {
            try await step("checkpoint \(record.name)") {
                try await engine.checkpoint(id: record.id, options: options, logPath: record.bundle + "/runtime.log")
            }
        } catch {
            if !keep { for dir in [paths.images, paths.work] { try? Files.removeTree(dir) } }
            throw error
        }
    }

    /// The engine that dumps a container `owner` runs: the native engine dumps any container
    /// (a runc one by its init and bundle); runc can only dump its own.
    func checkpointEngine(owner: any ContainerEngine) async throws -> any ContainerEngine {
        owner.kind == .native ? owner : try await containerEngine()
    }

    func readDumpStatistics(_ workPath: String) -> CheckpointCRIUStatistics? {
        guard let bytes = try? Files.read(workPath + "/stats-dump"),
              let dump = try? CRIUStatsDecoder.decode(bytes).dump else { return nil }
        return CheckpointCRIUStatistics(
            freezingTime: UInt64(dump.freezingTime), frozenTime: UInt64(dump.frozenTime),
            memdumpTime: UInt64(dump.memdumpTime), memwriteTime: UInt64(dump.memwriteTime),
            pagesScanned: UInt64(dump.pagesScanned), pagesWritten: UInt64(dump.pagesWritten))
    }
}

/// Whole microseconds since `start` (podman's statistics unit).
public func microseconds(since start: ContinuousClock.Instant) -> UInt64 {
    let elapsed = ContinuousClock.now - start
    return UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
}
