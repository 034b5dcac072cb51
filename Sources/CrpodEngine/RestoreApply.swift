#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodDrivers
import CrpodLinux
import SystemPackage

extension Engine {
    /// The executor: runs the import's recipe (CrpodCore) step by step — container directory
    /// and rootfs, final spec, checks, image edits, the runtime — registering each undo step of
    /// the recipe before the stage that needs it.
    func applyRestore(_ plan: RestorePlan, archive: ImportedArchive, pod: PodRecord?, request: RestoreRequest, rollback: Rollback) async throws -> RestoreOutcome {
        var recipe = restoreRecipe(plan, archive: archive, request: request)
        recipe.engine.leaveStopped = request.leaveStopped
        let (base, image) = try baseRootfs(archive, request)
        var record = restoredRecord(recipe, archive: archive, rootfs: base)
        record.image = image
        try prepareRootfs(record, recipe: recipe, archive: archive, ignoreRootfs: request.ignoreRootfs, rollback: rollback)
        FaultPoint.restoreAfterRootfs.hit()
        var spec = try restoredSpec(archive.spec, recipe: recipe)
        let shmNotes = try await placeDevShm(&spec, archive: archive, pod: pod, containerDirectory: recipe.layout.directory, rollback: rollback)
        try replaceMissingBindSources(&spec, containerDirectory: recipe.layout.directory, hostname: pod?.hostname ?? plan.containerName)
        try enforce(request.policy, spec: spec, rootfs: base, containerID: record.id, podShmDirectory: pod?.shmDirectory)
        try enforceImageRule(request, images: archive.imagesDirectory, facts: archive.imageFacts, spec: spec, rootPath: recipe.layout.rootfs, lsmProfileGiven: plan.lsmProfile != nil)
        record.namespaceHolder = try await holdNamespaces(&spec, recipe: recipe, owner: record.name, rollback: rollback)
        spec = spec.clampingRLimits(to: recipe.rlimitCeilings)
        let limitNotes = try dropUnavailableLimits(&spec, cgroup: record.cgroupPath)
        try step("write \(recipe.layout.config)") { try Files.writeAtomically(recipe.layout.config, Array(try spec.data())) }
        let strays = try prepareRestorePlacement(record, images: archive.imagesDirectory, sourceCgroup: archive.spec.cgroupsPath)
        var outcome = try await withOutputPipe(logPath: record.logPath) { output in
            try await restoreThroughEngine(recipe, record: record, images: archive.imagesDirectory, stdio: output, keepWork: request.keep,
                                           rollback: rollback) { try verifyRestoredPlacement($0, strays: strays) }
        }
        outcome.notes += shmNotes + limitNotes
        logger.info("container restored", metadata: ["container": "\(record.name)", "pod": "\(plan.podName ?? "")", "archive": "\(archive.path)"])
        return outcome
    }

    /// The recipe's last stages, once the container directory, its rootfs and config.json
    /// exist: the image edits, the runtime's undo step, the container engine's restore, the
    /// placement check (`verifyPlacement`: where the engine put the tasks), the record. Talks to
    /// the engine only through `ContainerEngine` (tested with a recording double).
    func restoreThroughEngine(_ recipe: RestoreRecipe, record: ContainerRecord, images: String, stdio: FileDescriptor?,
                              keepWork: Bool, rollback: Rollback,
                              verifyPlacement: (ContainerRecord) throws -> Void) async throws -> RestoreOutcome {
        var record = record
        var engineOptions = recipe.engine
        engineOptions.sysvReattachments = try applyImageEdits(recipe.imageEdits, images: images)
        FaultPoint.restoreBeforeRuntime.hit()
        try journalNetworkLockRemoval(podID: recipe.plan.podID, rollback: rollback)
        try register(.runtime, of: recipe, rollback: rollback)
        let containerEngine = try await containerEngine()
        record.engine = containerEngine.kind
        let outcome = try await engineRestore(record, with: containerEngine, images: images, engine: engineOptions, stdio: stdio,
                                              keepWork: keepWork, rollback: rollback)
        try verifyPlacement(record)
        FaultPoint.restoreAfterRuntime.hit()
        record.state = "running"
        try store.save(record)
        return RestoreOutcome(id: record.id, name: record.name, podID: recipe.plan.podID, podName: recipe.plan.podName,
                              runtimeRestoreDuration: outcome.duration, criuStatistics: outcome.statistics, notes: recipe.plan.notes)
    }

    /// The recipe for `plan`, from what the import read and this host's limits.
    func restoreRecipe(_ plan: RestorePlan, archive: ImportedArchive, request: RestoreRequest) -> RestoreRecipe {
        let ceilings = Dictionary(ResourceLimits.current().map { ($0.name, $0.hard) }, uniquingKeysWith: { first, _ in first })
        let input = RestoreRecipeInput(
            containerDirectory: store.containerDirectory(plan.containerID),
            imageNames: (try? Files.listDirectory(archive.imagesDirectory)) ?? [],
            joinedByPath: Set(archive.spec.namespaces.filter { $0.path != nil }.map(\.type)),
            rlimitCeilings: ceilings, tcpEstablished: plan.tcpEstablished, fileLocks: request.fileLocks,
            timeLimit: settings.runtimeTimeLimit)
        return RestoreRecipe.make(plan: plan, input: input)
    }

    /// Journals the recipe's undo step of `stage` (the namespace holder's needs its identity).
    func register(_ stage: RestoreStage, of recipe: RestoreRecipe, holder: ProcessIdentity? = nil, rollback: Rollback) throws {
        guard let undo = recipe.undo(for: stage) else { return }
        switch undo.action {
        case let .removeTree(path): try rollback.add(.removeTree(path))
        case let .unmount(path): try rollback.add(.unmount(path))
        case let .deleteRuntime(id, cgroup): try rollback.add(.deleteRuntime(id: id, cgroup: cgroup))
        case .stopNamespaceHolder: if let holder { try rollback.add(.terminate(holder)) }
        }
    }

    /// runc marked the namespaces a standalone container joined by path (podman's
    /// /run/netns/...) as external at checkpoint; CRIU then needs a namespace handed in by
    /// path at restore. A crpod-pause holds a fresh one for the container's lifetime.
    func holdNamespaces(_ spec: inout OCISpec, recipe: RestoreRecipe, owner: String, rollback: Rollback) async throws -> ProcessIdentity? {
        let kinds = recipe.heldNamespaces.compactMap { type in NamespaceKind.table.first { $0.ociType == type }?.kind }
        guard !kinds.isEmpty else { return nil }
        let holder = try await launchPause(owner: "container \(owner)", shares: kinds.map(\.rawValue), hostname: nil, procsFiles: [])
        try register(.namespaceHolder, of: recipe, holder: holder, rollback: rollback)
        for kind in kinds { spec.joinNamespace(type: kind.ociType, path: kind.procPath(pid: holder.pid)) }
        return holder
    }

    /// Refuses the restore, listing every violation, when the spec breaks the policy.
    func enforce(_ policy: RestorePolicy?, spec: OCISpec, rootfs: String, containerID: String, podShmDirectory: String? = nil) throws {
        guard let policy else { return }
        let effective = images.holds(rootfs: rootfs) ? policy.forStoreImage() : policy
        let violations = effective.violations(spec: spec, rootfs: rootfs, containerDirectory: store.containerDirectory(containerID),
                                              podShmDirectory: podShmDirectory)
        if !violations.isEmpty { throw EngineError.policyRefused(problems: violations) }
    }

    /// The base rootfs: --rootfs; else the image the archive names (podman's rootfsImageID,
    /// then rootfsImageName) from the store; else the directory crpod recorded at checkpoint.
    func baseRootfs(_ archive: ImportedArchive, _ request: RestoreRequest) throws -> (path: String, image: ImageUse?) {
        if let rootfs = request.rootfs { return (rootfs, nil) }
        let imageID = archive.config.rootfsImageID.flatMap { $0.isEmpty ? nil : $0 }
        let imageName = archive.config.rootfsImageName.flatMap { $0.isEmpty ? nil : $0 }
        if imageID != nil || imageName != nil {
            let store = images
            let records = try store.records()
            let found = try imageID.flatMap { ImageDigest(hex: $0) }.flatMap { id in records.first { $0.id == id } }
                ?? imageName.flatMap { try store.find($0, in: records) }
            guard let found else {
                let named = [imageName, imageID.map { "ID \($0.prefix(12))" }].compactMap { $0 }.joined(separator: ", ")
                throw EngineError.imageNotFound(reference: named, context: "the archive's base image")
            }
            return (store.rootfsPath(found), ImageUse(name: imageName ?? found.names.first, id: found.id.hex))
        }
        if let rootfs = archive.config.crpod?.rootfs ?? archive.config.rootfs, rootfs.hasPrefix("/"), Files.isDirectory(rootfs) {
            return (rootfs, nil)
        }
        let image = archive.config.rootfsImageName ?? archive.config.rootfs ?? "unknown"
        throw EngineError.invalidInput(what: "rootfs", detail: "the archive's base rootfs (\(image)) is not a directory here: pass --rootfs DIR")
    }

    func restoredRecord(_ recipe: RestoreRecipe, archive: ImportedArchive, rootfs: String) -> ContainerRecord {
        let layout = recipe.layout
        return ContainerRecord(
            id: recipe.plan.containerID, name: recipe.plan.containerName, podID: recipe.plan.podID, podName: recipe.plan.podName,
            rootfs: rootfs, bundle: layout.bundle,
            overlay: Mounts.Overlay(lower: rootfs, upper: layout.upper, work: layout.work, target: layout.rootfs),
            cgroupPath: recipe.plan.cgroupsPath, command: archive.spec.processArgs, env: archive.spec.processEnv,
            workdir: archive.spec.json["process"]?["cwd"]?.stringValue ?? "/", logPath: layout.log,
            created: timestamp(), state: "restoring")
    }

    /// Container directory, the overlay upper rebuilt from rootfs-diff.tar + deleted.files, the mount.
    func prepareRootfs(_ record: ContainerRecord, recipe: RestoreRecipe, archive: ImportedArchive, ignoreRootfs: Bool, rollback: Rollback) throws {
        let directory = recipe.layout.directory
        let overlay = record.overlay
        try register(.containerDirectory, of: recipe, rollback: rollback)
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
        try register(.rootfsMount, of: recipe, rollback: rollback)
        try step("mount overlay on \(overlay.target)") { try Mounts.mount(overlay) }
    }

    /// The archive's spec patched by the recipe, after refusing joins of namespaces that are
    /// not a pod's.
    func restoredSpec(_ original: OCISpec, recipe: RestoreRecipe) throws -> OCISpec {
        if let foreign = original.foreignNamespaceJoins.first {
            throw EngineError.archiveInvalid(path: CheckpointMember.spec, problems: [
                "\(CheckpointMember.spec) joins the \(foreign.type) namespace at \(foreign.path ?? "") — only a pod's \(OCINamespaceType.joinableByPathText) namespaces can be joined"])
        }
        return recipe.patchedSpec(original)
    }

    /// Runs the recipe's image edits (see `RestoreImageEdit`) in the image directory; returns
    /// the SysV attachments taken out of mm images, for the engine to attach again. They are
    /// also recorded beside the images (`sysvRecord`): an in-place restore (`inPlace`) edits its
    /// kept checkpoint, and a retry after a failure must still attach what the first try took
    /// out. An import's images come from the archive: a record there is never read.
    @discardableResult
    func applyImageEdits(_ edits: [RestoreImageEdit], images: String, inPlace: Bool = false) throws -> [CRIUSysVAttachment] {
        let record = images + "/" + Self.sysvRecord
        var detached: [CRIUSysVAttachment] = []
        if inPlace, edits.contains(where: { if case .detachSysVShm = $0 { true } else { false } }), Files.exists(record) {
            detached = try step("read \(record)") { try JSONDecoder().decode([CRIUSysVAttachment].self, from: Data(Files.read(record, limit: 1 << 20))) }
        }
        for edit in edits {
            switch edit {
            case let .remove(name):
                try step("drop \(name)") { try Files.removeTree(images + "/" + name) }
            case let .setHostname(name, hostname):
                let path = images + "/" + name
                let rewritten = try step("rewrite \(name) to hostname \(hostname)") { try CRIUUtsns.rewrite(Files.read(path), nodename: hostname) }
                try step("write \(path)") { try Files.writeAtomically(path, rewritten, mode: 0o600) }
            case let .detachSysVShm(name):
                let path = images + "/" + name
                let pid = CRIUMemoryMap.pid(ofImage: name) ?? 0
                let edited = try step("take the SysV mappings out of \(name)") { try CRIUMemoryMap.removingSysVMappings(Files.read(path), pid: pid, image: name) }
                guard !edited.removed.isEmpty else { continue }
                detached += edited.removed
                try step("write \(record)") { try Files.writeAtomically(record, Array(JSONEncoder().encode(detached)), mode: 0o600) }
                try step("write \(path)") { try Files.writeAtomically(path, edited.image, mode: 0o600) }
            }
        }
        return detached
    }

    /// Beside the images: the SysV attachments crpod took out of them (JSON).
    static let sysvRecord = "crpod-sysv-attachments.json"

    /// The container engine's restore, its output to `stdio`; returns its duration and CRIU's
    /// statistics. The caller has registered the runtime's undo step.
    func engineRestore(_ record: ContainerRecord, with containerEngine: any ContainerEngine, images: String, engine: RestoreEngineOptions,
                       stdio: FileDescriptor?, keepWork: Bool,
                       rollback: Rollback) async throws -> (duration: UInt64, statistics: RestoreCRIUStatistics?) {
        let work = store.containerDirectory(record.id) + "/restore-work"
        try step("create \(work)") { try Files.removeTree(work); try Files.makeDirectories(work, mode: 0o700) }
        if !keepWork { rollback.onSuccess { try? Files.removeTree(work) } }
        let options = runtimeOptions(engine, images: images, work: work, bundle: record.bundle)
        let started = ContinuousClock.now
        do {
            try await containerEngine.restore(id: record.id, options: options, stdio: stdio, logPath: record.bundle + "/runtime.log")
        } catch {
            // The rollback removes the container directory: keep CRIU's full log where it can be read.
            let kept = keepLog(work + "/restore.log", as: "restore-\(record.name)")
            throw EngineError.step("restore \(record.name)" + (kept.map { " (full CRIU log kept at \($0))" } ?? ""), cause: error)
        }
        return (microseconds(since: started), readRestoreStatistics(work))
    }

    /// Before the engine runs (see RestoreCgroups): the container's CRIU config pinned to its
    /// cgroup, a checkpoint from another cgroup mode refused; returns what CRIU could create at
    /// the source cgroup, for `verifyRestoredPlacement` to remove.
    func prepareRestorePlacement(_ record: ContainerRecord, images: String, sourceCgroup: String?) throws -> [(tree: any CgroupTree, cgroup: String)] {
        try pinRestoreCgroup(record)
        try refuseCheckpointFromAnotherCgroupMode(images)
        return try sourceCgroup.map { $0 == record.cgroupPath ? [] : try missingCgroupAncestors($0) } ?? []
    }

    /// The recipe's engine options as runc's restore flags.
    func runtimeOptions(_ engine: RestoreEngineOptions, images: String, work: String, bundle: String) -> RestoreOptions {
        var options = RestoreOptions(imagePath: images, workPath: work, bundle: bundle, pidFile: bundle + "/pid")
        options.manageCgroupsMode = engine.manageCgroupsMode
        options.timeLimit = engine.timeLimit
        options.tcpEstablished = engine.tcpEstablished
        options.fileLocks = engine.fileLocks
        options.lsmProfile = engine.lsmProfile
        options.lsmMountContext = engine.lsmMountContext
        options.leaveStopped = engine.leaveStopped
        if !engine.sysvReattachments.isEmpty {
            options.sysvReattach = SysVReattach(helper: try? settings.helperPath(Self.sysvAttachHelper), attachments: engine.sysvReattachments)
        }
        return options
    }

    /// Attaches SysV segments in a restored, stopped task (see Sources/crpod-shmattach).
    static let sysvAttachHelper = "crpod-shmattach"

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
