#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodDrivers
import CrpodLinux

extension Engine {
    /// Builds the container (directory, rootfs, spec), fixes the CRIU images for the target
    /// pod, and restores through the runtime. Every step registers its undo.
    func applyRestore(_ plan: RestorePlan, archive: ImportedArchive, pod: PodRecord?, request: RestoreRequest, rollback: Rollback) async throws -> RestoreOutcome {
        let base = try baseRootfs(archive, request)
        var record = restoredRecord(plan, archive: archive, rootfs: base)
        try prepareRootfs(record, archive: archive, ignoreRootfs: request.ignoreRootfs, rollback: rollback)
        FaultPoint.restoreAfterRootfs.hit()
        var spec = try restoredSpec(archive.spec, plan: plan, rootPath: record.overlay.target)
        try replaceMissingBindSources(&spec, containerDirectory: store.containerDirectory(record.id), hostname: pod?.hostname ?? plan.containerName)
        try enforce(request.policy, spec: spec, rootfs: base, containerID: record.id)
        try enforceImageRule(request, images: archive.imagesDirectory, spec: spec, rootPath: record.overlay.target, lsmProfileGiven: plan.lsmProfile != nil)
        if pod == nil { record.namespaceHolder = try await holdExternalNamespaces(&spec, original: archive.spec, owner: record.name, rollback: rollback) }
        clampRLimits(&spec)
        let limitNotes = try dropUnavailableLimits(&spec, cgroup: record.cgroupPath)
        try step("write \(record.bundle)/config.json") { try Files.writeAtomically(record.bundle + "/config.json", Array(try spec.data())) }
        try adjustImages(archive.imagesDirectory, dropIPCObjects: plan.dropIPCObjectImages, hostname: plan.keepTargetHostname)
        FaultPoint.restoreBeforeRuntime.hit()
        let outcome = try await runtimeRestore(record, images: archive.imagesDirectory, request: request,
                                               lsm: (plan.lsmProfile, plan.lsmMountContext), sourceCgroup: archive.spec.cgroupsPath, rollback: rollback)
        FaultPoint.restoreAfterRuntime.hit()
        record.state = "running"
        try store.save(record)
        logger.info("container restored", metadata: ["container": "\(record.name)", "pod": "\(plan.podName ?? "")", "archive": "\(archive.path)"])
        return RestoreOutcome(id: record.id, name: record.name, podID: plan.podID, podName: plan.podName,
                              runtimeRestoreDuration: outcome.duration, criuStatistics: outcome.statistics, notes: plan.notes + limitNotes)
    }

    /// runc marked the namespaces a standalone container joined by path (podman's
    /// /run/netns/...) as external at checkpoint; CRIU then needs a namespace handed in by
    /// path at restore. A crpod-pause holds a fresh one for the container's lifetime.
    func holdExternalNamespaces(_ spec: inout OCISpec, original: OCISpec, owner: String, rollback: Rollback) async throws -> ProcessIdentity? {
        let external = [NamespaceKind.net].filter { original.namespacePath(type: $0.ociType) != nil }
        guard !external.isEmpty else { return nil }
        let holder = try await launchPause(owner: "container \(owner)", shares: external.map(\.rawValue), hostname: nil, procsFiles: [])
        try rollback.add(.terminate(holder))
        for kind in external { spec.joinNamespace(type: kind.ociType, path: kind.procPath(pid: holder.pid)) }
        return holder
    }

    /// Refuses the restore, listing every violation, when the spec breaks the policy.
    func enforce(_ policy: RestorePolicy?, spec: OCISpec, rootfs: String, containerID: String) throws {
        guard let policy else { return }
        let violations = policy.violations(spec: spec, rootfs: rootfs, containerDirectory: store.containerDirectory(containerID))
        if !violations.isEmpty { throw EngineError.policyRefused(problems: violations) }
    }

    /// The base rootfs: --rootfs, else the directory crpod recorded at checkpoint time.
    func baseRootfs(_ archive: ImportedArchive, _ request: RestoreRequest) throws -> String {
        if let rootfs = request.rootfs { return rootfs }
        if let rootfs = archive.config.crpod?.rootfs ?? archive.config.rootfs, rootfs.hasPrefix("/"), Files.isDirectory(rootfs) {
            return rootfs
        }
        let image = archive.config.rootfsImageName ?? archive.config.rootfs ?? "unknown"
        throw EngineError.invalidInput(what: "rootfs", detail: "the archive's base rootfs (\(image)) is not a directory here: pass --rootfs DIR")
    }

    func restoredRecord(_ plan: RestorePlan, archive: ImportedArchive, rootfs: String) -> ContainerRecord {
        let directory = store.containerDirectory(plan.containerID)
        return ContainerRecord(
            id: plan.containerID, name: plan.containerName, podID: plan.podID, podName: plan.podName, rootfs: rootfs,
            bundle: directory + "/bundle",
            overlay: Mounts.Overlay(lower: rootfs, upper: directory + "/upper", work: directory + "/work", target: directory + "/rootfs"),
            cgroupPath: plan.cgroupsPath, command: archive.spec.processArgs, env: archive.spec.processEnv,
            workdir: archive.spec.json["process"]?["cwd"]?.stringValue ?? "/", logPath: directory + "/ctr.log",
            created: timestamp(), state: "restoring")
    }

    /// Container directory, the overlay upper rebuilt from rootfs-diff.tar + deleted.files, the mount.
    func prepareRootfs(_ record: ContainerRecord, archive: ImportedArchive, ignoreRootfs: Bool, rollback: Rollback) throws {
        let directory = store.containerDirectory(record.id)
        let overlay = record.overlay
        try rollback.add(.removeTree(directory))
        try step("create container directory \(directory)") {
            for dir in [directory, overlay.upper, overlay.work, overlay.target, record.bundle] { try Files.makeDirectories(dir, mode: 0o700) }
        }
        // The overlay root takes the upper directory's mode, and CRIU refuses a root whose
        // mode differs from the dumped one ("File . has bad mode 040700 (expect 040555)").
        let files = archive.imagesDirectory + "/files.img"
        let recorded = try? CRIUFiles.rootDirectoryMode(Files.read(files))
        try step("set the mode of \(overlay.upper)") { try Files.copyMode(from: record.rootfs, to: overlay.upper, override: recorded) }
        let diff = archive.directory + "/" + CheckpointMember.rootfsDiff
        if !ignoreRootfs && Files.exists(diff) {
            _ = try step("apply \(CheckpointMember.rootfsDiff)") {
                try RootfsDiff.apply(tarPath: diff, upperDirectory: overlay.upper, deletedFiles: archive.deletedFiles)
            }
        }
        try rollback.add(.unmount(overlay.target))
        try step("mount overlay on \(overlay.target)") { try Mounts.mount(overlay) }
    }

    /// The archive's spec repointed by the plan (CrpodCore's pure patch), after refusing joins
    /// of namespaces that are not a pod's.
    func restoredSpec(_ original: OCISpec, plan: RestorePlan, rootPath: String) throws -> OCISpec {
        if let foreign = original.foreignNamespaceJoins.first {
            throw EngineError.archiveInvalid(path: CheckpointMember.spec, problems: [
                "\(CheckpointMember.spec) joins the \(foreign.type) namespace at \(foreign.path ?? "") — only a pod's ipc, network, uts, pid and cgroup namespaces can be joined"])
        }
        return original.restored(by: plan, rootPath: rootPath)
    }

    /// CRIU would re-create every SysV object of a shared IPC namespace (other members'
    /// included: "Failed to create shm set: File exists") and write the checkpoint's hostname
    /// into a joined UTS namespace. Drop the former, rewrite the latter to the pod's hostname.
    func adjustImages(_ images: String, dropIPCObjects: Bool, hostname: String?) throws {
        let names = try step("list \(images)") { try Files.listDirectory(images) }
        if dropIPCObjects {
            for name in CRIUIPCImages.objectImages(in: names) {
                try step("drop \(name)") { try Files.removeTree(images + "/" + name) }
            }
        }
        guard let hostname else { return }
        for name in names where name.hasPrefix("utsns-") && name.hasSuffix(".img") {
            let path = images + "/" + name
            let rewritten = try step("rewrite \(name) to hostname \(hostname)") { try CRIUUtsns.rewrite(Files.read(path), nodename: hostname) }
            try step("write \(path)") { try Files.writeAtomically(path, rewritten, mode: 0o600) }
        }
    }

    /// runc restore with a new output pipe; returns the runtime's duration and CRIU's statistics.
    func runtimeRestore(_ record: ContainerRecord, images: String, request: RestoreRequest,
                        lsm: (profile: String?, mountContext: String?), sourceCgroup: String?,
                        rollback: Rollback) async throws -> (duration: UInt64, statistics: RestoreCRIUStatistics?) {
        let runtime = try runtime()
        let work = store.containerDirectory(record.id) + "/restore-work"
        try step("create \(work)") { try Files.removeTree(work); try Files.makeDirectories(work, mode: 0o700) }
        if !request.keep { rollback.onSuccess { try? Files.removeTree(work) } }
        try rollback.add(.deleteRuntime(id: record.id, cgroup: record.cgroupPath))
        var options = RestoreOptions(imagePath: images, workPath: work, bundle: record.bundle, pidFile: record.bundle + "/pid")
        options.manageCgroupsMode = "soft"
        options.timeLimit = settings.runtimeTimeLimit
        try pinRestoreCgroup(record)
        try refuseCheckpointFromAnotherCgroupMode(images)
        let strays = try sourceCgroup.map { $0 == record.cgroupPath ? [] : try missingCgroupAncestors($0) } ?? []
        options.tcpEstablished = request.tcpEstablished
        options.fileLocks = request.fileLocks
        options.lsmProfile = lsm.profile
        options.lsmMountContext = lsm.mountContext
        let started = ContinuousClock.now
        do {
            try await withOutputPipe(logPath: record.logPath) { output in
                try await runtime.restore(id: record.id, options: options, stdio: output, logPath: record.bundle + "/runtime.log")
            }
        } catch {
            // The rollback removes the container directory: keep CRIU's full log where it can be read.
            let kept = keepLog(work + "/restore.log", as: "restore-\(record.name)")
            throw EngineError.step("restore \(record.name)" + (kept.map { " (full CRIU log kept at \($0))" } ?? ""), cause: error)
        }
        let duration = microseconds(since: started)
        try verifyRestoredPlacement(record, strays: strays)
        return (duration, readRestoreStatistics(work))
    }

    /// Copies `log` to `<root>/logs/<name>-<random>.log`; the copy's path, or nil if there was nothing to keep.
    func keepLog(_ log: String, as name: String) -> String? {
        let kept = "\(store.root)/logs/\(name)-\(ObjectID.generate().short).log"
        do {
            let bytes = try Files.read(log)
            try Files.makeDirectories(store.root + "/logs", mode: 0o700)
            try Files.writeAtomically(kept, bytes, mode: 0o600)
            return kept
        } catch {
            return nil
        }
    }

    func readRestoreStatistics(_ work: String) -> RestoreCRIUStatistics? {
        guard let bytes = try? Files.read(work + "/stats-restore"),
              let restore = try? CRIUStatsDecoder.decode(bytes).restore else { return nil }
        return RestoreCRIUStatistics(forkingTime: UInt64(restore.forkingTime), restoreTime: UInt64(restore.restoreTime),
                                     pagesRestored: UInt64(restore.pagesRestored))
    }
}
