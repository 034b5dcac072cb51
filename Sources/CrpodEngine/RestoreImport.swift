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

/// What an import learned before planning: the extracted archive and its parsed metadata.
struct ImportedArchive: Sendable {
    let path: String
    /// Where the archive was extracted (`checkpoint/`, `rootfs-diff.tar`, ...).
    let directory: String
    let facts: ArchiveFacts
    let config: CheckpointConfig
    let spec: OCISpec
    let deletedFiles: [String]
    /// Read from the images before the lock is taken (they depend on nothing live).
    var planFacts: ArchivePlanFacts?
    /// What the image rule needs, decoded; nil when the archive is trusted (`--trust-archive`).
    var imageFacts: Result<RestoredImageFacts, UnreadableImages>?

    var imagesDirectory: String { directory + "/" + CheckpointMember.checkpointDirectory }
}

extension Engine {
    /// An import in two stages. Without the state lock: extraction, hashing, validation and
    /// reading the images, into a work directory of its own (journaled, so a crash there is
    /// undone too) — so `max_jobs` restores really overlap. Under the lock: planning against
    /// live state (pod, names, PIDs) and applying (container directory, cgroups, runtime, record).
    func restoreImport(_ request: RestoreRequest, path: String) async throws -> RestoreOutcome {
        try await withStagedRollback("restore \(path)", prepare: { rollback in
            let file = try request.archiveFile ?? step("open archive \(path)") { try ArchiveFile.open(path: path) }
            return try await prepareImport(file, request, rollback: rollback)
        }, apply: { archive, rollback in
            let pod = try request.pod.flatMap(existingPod)
            let plan = try await planRestore(archive, pod: pod, request: request)
            return try await applyRestore(plan, archive: archive, pod: pod, request: request, rollback: rollback)
        })
    }

    /// The lock-free stage: the archive extracted and validated, its images read.
    func prepareImport(_ file: OpenedFile, _ request: RestoreRequest, rollback: Rollback) async throws -> ImportedArchive {
        let work = try makeWorkDirectory(prefix: "restore", archiveBytes: file.size, rollback: rollback, keep: request.keep)
        // Extraction reads and writes up to gigabytes: on its own thread, never the pool's.
        let archive = try await BlockingThread.run("extract \(file.path)") { [trust = request.trustArchive] _ in
            var archive = try extractAndValidate(file, into: work + "/archive")
            archive.planFacts = try archivePlanFacts(archive)
            archive.imageFacts = trust ? nil : ImageRuleCheck.readFacts(images: archive.imagesDirectory)
            return archive
        }
        FaultPoint.restoreAfterExtract.hit()
        return archive
    }

    /// The pod named by `reference`, or nil when there is none (the planner then reports
    /// `pod "x" cannot be retrieved` with every other problem); ambiguity is an error.
    func existingPod(_ reference: String) throws -> PodRecord? {
        do { return try store.pod(reference) } catch EngineError.podNotFound(_) { return nil }
    }

    /// A fresh directory under the state root; removed on failure, and on success unless `keep`.
    /// When the archive surely fits in half the available memory it is a private tmpfs:
    /// extracting the page images there, and CRIU reading them back, skips the disk.
    func makeWorkDirectory(prefix: String, archiveBytes: UInt64, rollback: Rollback, keep: Bool) throws -> String {
        let path = "\(store.root)/work/\(prefix)-\(ObjectID.generate().short)"
        if keep { try rollback.add(.removeTree(path)) } else { try rollback.addTemporary(.removeTree(path)) }
        try step("create \(path)") { try Files.makeDirectories(path, mode: 0o700) }
        if !keep, let size = tmpfsSize(forArchiveBytes: archiveBytes) {
            try rollback.addTemporary(.unmount(path))
            _ = try? Mounts.mountTmpfs(at: path, sizeBytes: size)
        }
        return path
    }

    /// A tmpfs size for extracting `archive`, or nil when it may not fit: 20 times the archive
    /// (memory images compress 2–4×; the extractor's own limits stop bombs) plus 64 MiB must be
    /// under half of MemAvailable.
    func tmpfsSize(forArchiveBytes archiveBytes: UInt64) -> UInt64? {
        privateTmpfsSize(neededBytes: archiveBytes * 20 + (64 << 20))
    }

    /// Extracts in one streaming pass (every member hashed), then validates everything
    /// before anything else is touched. The archive itself is only read.
    func extractAndValidate(_ file: OpenedFile, into directory: String) throws -> ImportedArchive {
        let path = file.path
        let metadataLimit = 8 << 20
        let wanted: Set<String> = [
            CheckpointMember.config, CheckpointMember.spec, CheckpointMember.manifest, CheckpointMember.deletedFiles,
            CheckpointMember.statsDump, CheckpointMember.inventory, CheckpointMember.dumpLog,
        ]
        let result = try step("extract \(path)") {
            try ArchiveExtractor.extract(archive: file, into: directory, keepContentOf: { wanted.contains($0) }, contentLimit: metadataLimit)
        }
        var facts = ArchiveFacts(members: result.members.map(\.archiveMember), compression: result.summary.detection.vocabulary)
        let contents = result.contents
        facts.readMetadata(contents)
        if facts.isPodArchive {
            throw EngineError.archiveInvalid(path: path, problems: ["\(path) is a whole-pod archive (\(PodArchiveMember.description)): restore it with crpod pod restore --import"])
        }
        var problems = ArchiveValidator.validate(facts).map(\.message)
        for member in result.members where wanted.contains(member.archiveMember.name) && contents[member.archiveMember.name] == nil {
            problems.append("\(member.archiveMember.name) is \(member.archiveMember.size) bytes, over the \(metadataLimit >> 20) MiB limit for metadata members")
        }
        guard problems.isEmpty, let config = facts.config, let spec = facts.spec else {
            let missing = [facts.config == nil ? CheckpointMember.config : nil, facts.spec == nil ? CheckpointMember.spec : nil].compactMap { $0 }
            throw EngineError.archiveInvalid(path: path, problems: problems.isEmpty ? missing.map { "\($0) is missing or unreadable" } : problems)
        }
        var deleted: [String] = []
        if let bytes = contents[CheckpointMember.deletedFiles] {
            do { deleted = try JSONDecoder().decode([String].self, from: Data(bytes)) } catch {
                throw EngineError.archiveInvalid(path: path, problems: ["\(CheckpointMember.deletedFiles) is not a JSON list of paths: \(error)"])
            }
        }
        return ImportedArchive(path: path, directory: directory, facts: facts, config: config, spec: spec, deletedFiles: deleted)
    }

    /// Gathers archive, pod and host facts and asks the pure planner; all problems at once.
    func planRestore(_ archive: ImportedArchive, pod: PodRecord?, request: RestoreRequest, member: PodRestorePlan.Member? = nil) async throws -> RestorePlan {
        let archiveFacts = try archive.planFacts ?? archivePlanFacts(archive)
        let podFacts = try pod.map(podPlanFacts)
        let host = await hostPlanFacts(needsPodSupport: request.pod != nil)
        var options = RestorePlanOptions(
            podReference: request.pod, newName: request.name, newID: ObjectID.generate().rawValue,
            allowPrivatePIDInSharedPod: request.allowPrivatePID, podLookupFailed: request.pod != nil && pod == nil)
        options.carriesPodIPC = member?.carriesPodIPC ?? false
        options.reattachesPodSysVShm = member?.reattachesPodSysVShm ?? false
        options.tcpEstablished = request.tcpEstablished
        switch RestorePlanner.plan(archive: archiveFacts, pod: podFacts, host: host, options: options) {
        case let .success(plan):
            if try store.containers().contains(where: { $0.id == plan.containerID }) {
                throw EngineError.invalidInput(what: "restore", detail: "a container with id \(plan.containerID.prefix(12)) already exists: restore with --name to get a new name and id")
            }
            return plan
        case let .failure(problems):
            throw EngineError.restoreRefused(problems: problems.problems.map(\.message))
        }
    }

    func archivePlanFacts(_ archive: ImportedArchive) throws -> ArchivePlanFacts {
        let config = archive.config
        let imageNames = (try? Files.listDirectory(archive.imagesDirectory)) ?? []
        let pstree = try step("read \(CheckpointMember.checkpointDirectory)/pstree.img") {
            try CRIUPstree.decode(Files.read(archive.imagesDirectory + "/pstree.img"))
        }
        var facts = ArchivePlanFacts(
            containerID: config.id ?? "", containerName: config.name ?? "", podID: config.pod,
            sharedNamespaces: Set(config.sharedNamespaceOwners.keys),
            privateNamespaces: Set(archive.spec.namespaces.filter { $0.path == nil || config.pod == nil }.map(\.type)),
            dependencies: config.dependenciesOutsidePod, createCommand: config.createCommand,
            annotations: archive.spec.annotations, checkpointPIDs: pstree.allPIDs,
            hostname: archive.spec.hostname ?? config.crpod?.hostname,
            hasIPCObjectImages: !CRIUIPCImages.objectImages(in: imageNames).isEmpty)
        facts.tcpConnections = Self.tcpConnections(images: archive.imagesDirectory, names: imageNames)
        facts.sysvSegmentsAttached = try Self.sysvSegmentsAttached(images: archive.imagesDirectory, names: imageNames)
        return facts
    }

    /// The SysV segment ids the checkpoint's tasks have attached, from every `mm-<pid>.img`.
    static func sysvSegmentsAttached(images: String, names: [String]) throws -> Set<UInt64> {
        var ids: Set<UInt64> = []
        for name in names where CRIUMemoryMap.pid(ofImage: name) != nil {
            ids.formUnion(try step("read \(CheckpointMember.checkpointDirectory)/\(name)") {
                try CRIUMemoryMap.sysvShmIDs(Files.read(images + "/" + name), image: name)
            })
        }
        return ids
    }

    /// The stream images counted; their addresses from files.img when it reads (an unreadable
    /// one leaves them unknown, and CRIU has the last word).
    static func tcpConnections(images: String, names: [String]) -> ArchiveTCPConnections {
        guard names.contains(where: { $0.hasPrefix("tcp-stream-") }) else { return ArchiveTCPConnections() }
        let sockets = (try? Files.read(images + "/files.img")).flatMap { try? CRIUFiles.tcpSockets($0) } ?? []
        return ArchiveTCPConnections(imageNames: names, sockets: sockets)
    }

    func podPlanFacts(_ pod: PodRecord) throws -> PodPlanFacts {
        let alive = pod.infra?.isAlive() ?? false
        var pidsInUse: Set<Int32> = []
        if alive, pod.shares.contains(NamespaceKind.pid.rawValue), let infra = pod.infra {
            pidsInUse = try step("list PIDs in use in pod \(pod.name)") {
                try PidNamespaces.pidsInUse(namespaceInode: NamespaceRef.of(pid: infra.pid, kind: .pid).inode)
            }
        }
        var facts = PodPlanFacts(
            id: pod.id, name: pod.name, shares: Set(pod.shares), infraPID: pod.infra?.pid, infraRunning: alive,
            cgroupPath: pod.cgroupPath, processLabel: pod.processLabel, mountLabel: pod.mountLabel,
            hostname: pod.hostname, pidsInUse: pidsInUse)
        facts.addresses = pod.network?.mode == .host ? nil : (pod.network?.result?.ips ?? []).map(\.address)
        return facts
    }

    func hostPlanFacts(needsPodSupport: Bool) async -> HostPlanFacts {
        let runtimePath = settings.runtimePath ?? "runc"
        let supports = needsPodSupport ? await runtimeSupportsPodRestore(runtimePath) : true
        let names = Set(((try? store.containers()) ?? []).map(\.name))
        return HostPlanFacts(
            criuVersion: await criuVersionNumber(), runtimePath: runtimePath, runtimeSupportsPodRestore: supports,
            selinuxEnabled: SELinux.isEnabled, existingContainerNames: names, cgroupParent: settings.cgroupParent)
    }
}
