#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodDrivers
import CrpodLinux

public struct PodCheckpointRequest: Sendable, Codable {
    public var export: String
    public var compression: CompressionMethod?
    public var leaveRunning = false
    public var tcpEstablished = false
    public var fileLocks = false
    public var ignoreRootfs = false
    public var progress: (@Sendable (UInt64) -> Void)?
    /// The export's directory, already opened (and confined) by the caller (see `CheckpointRequest`).
    public var exportDirectory: OpenDirectory?

    enum CodingKeys: String, CodingKey {
        case export, compression, leaveRunning, tcpEstablished, fileLocks, ignoreRootfs
    }

    public init(export: String, compression: CompressionMethod? = nil) {
        self.export = export
        self.compression = compression
    }

    /// The single-container request each member is dumped and exported with.
    var memberRequest: CheckpointRequest {
        var request = CheckpointRequest(export: export, compression: compression)
        request.leaveRunning = leaveRunning
        request.tcpEstablished = tcpEstablished
        request.fileLocks = fileLocks
        request.ignoreRootfs = ignoreRootfs
        request.progress = progress
        request.exportDirectory = exportDirectory
        return request
    }
}

public struct PodCheckpointOutcome: Sendable, Codable {
    public var podID: String
    public var podName: String
    public var archive: String
    /// In the archive's (restore) order.
    public var members: [CheckpointOutcome]
    /// Microseconds from the pod's freeze (the cut) to the last member's thaw or kill.
    public var frozenDuration: UInt64
}

/// A member about to be dumped: its record, the engine that runs it and its init.
struct PodCheckpointMember {
    var record: ContainerRecord
    var owner: any ContainerEngine
    var initPid: Int32
}

extension Engine {
    /// Checkpoints every member of a pod at one consistent cut into one archive (`PodArchive`).
    /// The pod cgroup is frozen first (one write freezes every member at once), each member's
    /// own cgroup is then frozen and the pod's thawed (the infra runs on; the members stay
    /// frozen), and the native engine dumps each member through CRIU's `--freeze-cgroup` of
    /// that frozen cgroup, leaving it running and frozen. Then the archive is written and the
    /// members are thawed (`--leave-running`) or killed and thawed. Any failure before the kill
    /// thaws the members: the pod runs on as if nothing happened, and no archive appears. The
    /// thaws are journaled, so a crpod killed meanwhile leaves no frozen pod.
    public func checkpointPod(_ reference: String, _ request: PodCheckpointRequest) async throws -> PodCheckpointOutcome {
        try request.memberRequest.validate(containerCount: 1)
        return try await locked {
            let pod = try store.pod(reference)
            let members = try await runningMembers(of: pod)
            return try await withRollback("checkpoint pod \(pod.name)") { rollback in
                try await checkpointPodLocked(pod, members: members, request: request, rollback: rollback)
            }
        }
    }

    private func checkpointPodLocked(_ pod: PodRecord, members: [PodCheckpointMember], request: PodCheckpointRequest,
                                     rollback: Rollback) async throws -> PodCheckpointOutcome {
        let single = request.memberRequest
        let paths = try members.map { try prepareCheckpointPaths($0.record, request: single, rollback: rollback) }
        let dumper = try containerEngine(.native)
        let freezer = try podFreezer()
        let cut = ContinuousClock.now
        try await freezeMembers(pod, members: members, freezer: freezer, rollback: rollback)
        var outcomes: [CheckpointOutcome] = []
        do {
            for (member, memberPaths) in zip(members, paths) {
                outcomes.append(try await dumpFrozen(member, paths: memberPaths, dumper: dumper, freezer: freezer, request: single))
            }
            // The pod's /dev/shm at the cut too: every member is still frozen.
            let devShm = try await snapshotPodDevShm(pod, into: paths[0].rootfsDiffDirectory)
            if request.leaveRunning { thaw(members, freezer: freezer) }
            try await exportPodArchive(pod, members: members, paths: paths, request: single, devShmTar: devShm)
        } catch {
            thaw(members, freezer: freezer)
            throw error
        }
        if !request.leaveRunning { try await stopCheckpointed(members, freezer: freezer, tcpEstablished: single.tcpEstablished) }
        let frozen = microseconds(since: cut)
        for index in outcomes.indices { outcomes[index].archive = request.export; outcomes[index].imagesKept = nil }
        logger.info("pod checkpointed", metadata: ["pod": "\(pod.name)", "archive": "\(request.export)"])
        return PodCheckpointOutcome(podID: pod.id, podName: pod.name, archive: request.export, members: outcomes, frozenDuration: frozen)
    }

    /// The pod's /dev/shm as `<directory>/devshm-checkpoint.tar`; nil when it has none.
    private func snapshotPodDevShm(_ pod: PodRecord, into directory: String) async throws -> String? {
        guard let shm = pod.shmDirectory, Files.isDirectory(shm) else { return nil }
        let tar = directory + "/" + CheckpointMember.devShm
        try await snapshotDevShm(shm, to: tar)
        return tar
    }

    /// The pod's members in creation order, each running (a pod checkpoint moves all or nothing).
    func runningMembers(of pod: PodRecord) async throws -> [PodCheckpointMember] {
        let records = try store.containers().filter { $0.podID == pod.id }.sorted { ($0.created, $0.name) < ($1.created, $1.name) }
        guard !records.isEmpty else {
            throw EngineError.invalidInput(what: "pod checkpoint", detail: "pod \(pod.name) has no containers")
        }
        var members: [PodCheckpointMember] = []
        var stopped: [String] = []
        for record in records {
            let owner = try containerEngine(for: record)
            let state = try await step("runtime state \(record.name)") { try await owner.state(id: record.id, logPath: nil) }
            guard let state, state.status.rawValue == "running" else { stopped.append(record.name); continue }
            members.append(PodCheckpointMember(record: record, owner: owner, initPid: Int32(state.pid)))
        }
        guard stopped.isEmpty else {
            throw EngineError.invalidInput(what: "pod checkpoint", detail: "every member of pod \(pod.name) must be running; not running: \(stopped.joined(separator: ", "))")
        }
        return members
    }

    /// The cgroup v2 hierarchy (the unified one on a hybrid host): its `cgroup.freeze` is the cut.
    func podFreezer() throws -> CgroupV2Manager {
        guard let v2 = try cgroups().v2 else {
            throw EngineError.invalidInput(what: "pod checkpoint", detail: "needs a cgroup2 hierarchy (cgroup.freeze); this host mounts none")
        }
        return v2
    }

    /// The cut: the pod cgroup frozen at once, then each member's own cgroup frozen and the
    /// pod's thawed again, so the infra runs and each member stays frozen until it is thawed.
    private func freezeMembers(_ pod: PodRecord, members: [PodCheckpointMember], freezer: CgroupV2Manager, rollback: Rollback) async throws {
        try rollback.addTemporaries([.thawCgroup(pod.cgroupPath)] + members.map { .thawCgroup($0.record.cgroupPath) })
        try step("freeze pod cgroup \(pod.cgroupPath)") { try freezer.setFrozen(pod.cgroupPath, true) }
        try await waitUntilFrozen(pod.cgroupPath, freezer: freezer)
        for member in members {
            try step("freeze cgroup \(member.record.cgroupPath)") { try freezer.setFrozen(member.record.cgroupPath, true) }
        }
        try step("thaw pod cgroup \(pod.cgroupPath)") { try freezer.setFrozen(pod.cgroupPath, false) }
        for member in members { try await waitUntilFrozen(member.record.cgroupPath, freezer: freezer) }
        FaultPoint.podCheckpointAfterFreeze.hit()
    }

    private func waitUntilFrozen(_ cgroup: String, freezer: CgroupV2Manager) async throws {
        for _ in 0..<1000 {
            if try step("read the freezer state of \(cgroup)", { try freezer.isFrozen(cgroup) }) { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw EngineError.step("freeze \(cgroup)", cause: LinuxError.timedOut(operation: "wait for cgroup.events frozen 1", path: cgroup, seconds: 5))
    }

    func thaw(_ members: [PodCheckpointMember], freezer: CgroupV2Manager) {
        for member in members { try? freezer.setFrozen(member.record.cgroupPath, false) }
    }

    /// One member's dump, left running and frozen (CRIU restores the freezer state it found).
    private func dumpFrozen(_ member: PodCheckpointMember, paths: CheckpointPaths, dumper: any ContainerEngine,
                            freezer: CgroupV2Manager, request: CheckpointRequest) async throws -> CheckpointOutcome {
        let record = member.record
        var options = CheckpointOptions(imagePath: paths.images, workPath: paths.work, leaveRunning: true,
                                        tcpEstablished: request.tcpEstablished, fileLocks: request.fileLocks)
        options.manageCgroupsMode = "soft"
        options.timeLimit = settings.runtimeTimeLimit
        options.frozenCgroup = try freezer.directory(record.cgroupPath)
        if member.owner.kind != dumper.kind { options.startedElsewhere = StartedContainer(pid: member.initPid, bundle: record.bundle) }
        let started = ContinuousClock.now
        try await dump(record, engine: dumper, options: options, paths: paths, keep: false)
        return CheckpointOutcome(id: record.id, name: record.name, archive: nil, imagesKept: nil,
                                 runtimeCheckpointDuration: microseconds(since: started), criuStatistics: readDumpStatistics(paths.work))
    }

    /// After the archive is written without `--leave-running`: each member killed while still
    /// frozen (nothing runs past the cut), thawed, its runtime state and cgroup gone, `exited`.
    /// With `--tcp-established` their connections are first put back in repair mode, so the
    /// kill closes them silently and the peers wait for the restore (see `TCPRepair`).
    private func stopCheckpointed(_ members: [PodCheckpointMember], freezer: CgroupV2Manager, tcpEstablished: Bool) async throws {
        if tcpEstablished { for member in members { silenceConnections(member.record) } }
        for member in members {
            var record = member.record
            try? cgroups().kill(record.cgroupPath)
            try? freezer.setFrozen(record.cgroupPath, false)
            try await stopLocked(record, timeout: 0)
            if member.owner.kind == .runc {
                try await step("runtime delete \(record.name)") { try await member.owner.delete(id: record.id, force: true, logPath: nil) }
            }
            try? cgroups().remove(record.cgroupPath)
            record.state = "exited"
            try store.save(record)
        }
    }

    /// Repair mode on every connected TCP socket of the member's processes. A failure is logged,
    /// not thrown: the archive is written and valid; only the peers then see the connection close.
    private func silenceConnections(_ record: ContainerRecord) {
        for pid in (try? cgroups().processes(record.cgroupPath)) ?? [] {
            do {
                let count = try TCPRepair.silenceConnections(of: pid)
                if count > 0 { logger.debug("TCP connections in repair mode", metadata: ["container": "\(record.name)", "count": "\(count)"]) }
            } catch {
                logger.warning("cannot put TCP connections in repair mode; their peers will see them close",
                               metadata: ["container": "\(record.name)", "error": "\(error)"])
            }
        }
    }

}
