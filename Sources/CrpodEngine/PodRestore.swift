#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodDrivers
import CrpodLinux

public struct PodRestoreRequest: Sendable, Codable {
    public var importPath: String
    /// `--name NEWPOD`; nil keeps the archive's pod name.
    public var name: String?
    public var ignoreStaticIP = false
    public var ignoreStaticMAC = false
    /// `--publish`; nil keeps the archive's published ports.
    public var publish: [CNIPortMapping]?
    /// `--cgroup-parent`; nil: the configured default (the archive does not record the old one).
    public var cgroupParent: String?
    /// As `RestoreRequest.tcpEstablished`: nil decides from the archive.
    public var tcpEstablished: Bool?
    public var fileLocks = false
    public var keep = false
    /// As `RestoreRequest`'s: set by the daemon, never on the wire.
    public var policy: RestorePolicy?
    public var archiveFile: OpenedFile?
    public var trustArchive = false
    /// `PodRecord.origin` of the new pod: set by the spool, never on the wire.
    public var origin: String?

    enum CodingKeys: String, CodingKey {
        case importPath, name, ignoreStaticIP, ignoreStaticMAC, publish, cgroupParent, tcpEstablished, fileLocks, keep
    }

    public init(importPath: String) { self.importPath = importPath }

    /// The single-container request each member is restored with: into `pod`, under its own
    /// name with a new ID (the checkpointed pod may still exist).
    func memberRequest(_ member: String, pod: PodRecord, tcpEstablished: Bool) -> RestoreRequest {
        var request = RestoreRequest(importPath: importPath)
        request.pod = pod.id
        request.name = member
        request.tcpEstablished = tcpEstablished
        request.fileLocks = fileLocks
        request.keep = keep
        request.policy = policy
        request.trustArchive = trustArchive
        return request
    }
}

public struct PodRestoreOutcome: Sendable, Codable {
    public var podID: String
    public var podName: String
    /// In restore order.
    public var members: [RestoreOutcome]
    public var notes: [String]
}

/// A pod archive extracted and validated, each member ready as a single-container import.
struct ImportedPodArchive: Sendable {
    let path: String
    let description: PodArchiveDescription
    /// In `description.members` order.
    let members: [ImportedArchive]
    /// Where the archive was extracted: the pod's devshm-checkpoint.tar is at its top.
    let directory: String
}

extension Engine {
    /// Restores a whole-pod archive: plans the pod (PodRestorePlanner) and each member, creates
    /// the pod (same shares, hostname, network, address unless --ignore-static-ip) and restores
    /// the members in order into it, one re-creating the pod's SysV IPC objects (the later ones
    /// that had segments attached get them attached again: `SysVReattach`). One
    /// journaled rollback covers all: any failure removes the members restored so far and the
    /// pod (infra, cgroup, network, record) — no half pod.
    public func restorePod(_ request: PodRestoreRequest) async throws -> PodRestoreOutcome {
        let path = request.importPath
        if let name = request.name { try NameRule.validate(name, what: "pod name (--name)") }
        guard request.archiveFile != nil || (path.hasPrefix("/") && Files.exists(path)) else {
            throw EngineError.invalidInput(what: "--import", detail: "archive \(path) does not exist")
        }
        return try await withStagedRollback("restore pod \(path)", prepare: { rollback in
            let file = try request.archiveFile ?? step("open archive \(path)") { try ArchiveFile.open(path: path) }
            return try await preparePodImport(file, request, rollback: rollback)
        }, apply: { archive, rollback in
            let containerEngine = try await containerEngine()
            let plan = try planPodRestore(archive, request, engine: containerEngine.kind)
            var create = podCreateRequest(plan, request)
            create.shmSize = plan.shares.contains(NamespaceKind.ipc.rawValue) ? archive.description.shmSize : nil
            // Locked from before the address exists: a peer's retransmission gets no reset.
            let locked = plan.tcpEstablished && plan.shares.contains(NamespaceKind.net.rawValue)
            let pod = try await createPodLocked(create, rollback: rollback, lockNetwork: locked)
            let shmNotes = try await seedPodDevShm(pod, archive: archive, rollback: rollback)
            var outcomes: [RestoreOutcome] = []
            for (member, imported) in zip(plan.members, archive.members) {
                try await reservePodPIDs(pod, archive)
                var single = request.memberRequest(member.name, pod: pod, tcpEstablished: plan.tcpEstablished)
                single.leaveStopped = containerEngine.kind == .native
                let memberPlan = try await planRestore(imported, pod: pod, request: single, member: member)
                outcomes.append(try await applyRestore(memberPlan, archive: imported, pod: pod, request: single, rollback: rollback))
            }
            FaultPoint.podRestoreBeforeResume.hit()
            if containerEngine.kind == .native { try await resume(outcomes, engine: containerEngine) }
            if locked { try await setPodNetworkLock(pod, on: false) }
            logger.info("pod restored", metadata: ["pod": "\(pod.name)", "archive": "\(path)"])
            return PodRestoreOutcome(podID: pod.id, podName: pod.name, members: outcomes, notes: plan.notes + shmNotes)
        })
    }

    /// The members, restored stopped one by one, continue together: the pod resumes as it was
    /// cut, no member running while another is still being restored.
    private func resume(_ members: [RestoreOutcome], engine: any ContainerEngine) async throws {
        for member in members {
            try await step("resume \(member.name)") { try await engine.kill(id: member.id, signal: SIGCONT, all: true, logPath: nil) }
        }
    }

    /// The new pod's /dev/shm gets the archive's (taken at the pod's cut) before any member
    /// is restored: files members hold open or mapped there must exist for CRIU.
    private func seedPodDevShm(_ pod: PodRecord, archive: ImportedPodArchive, rollback: Rollback) async throws -> [String] {
        let tar = archive.directory + "/" + CheckpointMember.devShm
        guard Files.exists(tar) else { return [] }
        guard let shm = pod.shmDirectory else {
            return ["the archive's /dev/shm content is not restored: pod \(pod.name) does not share IPC, so it has no /dev/shm of its own"]
        }
        _ = try await seedDevShm(shm, fromTar: tar, rollback: rollback)
        return []
    }

    /// The lock-free stage: the whole archive extracted into a work directory and validated
    /// (PodArchiveValidator: every member as a single-container archive), then each member's
    /// metadata and images read as a single import's are.
    func preparePodImport(_ file: OpenedFile, _ request: PodRestoreRequest, rollback: Rollback) async throws -> ImportedPodArchive {
        let work = try makeWorkDirectory(prefix: "restore-pod", archiveBytes: file.size, rollback: rollback, keep: request.keep)
        return try await BlockingThread.run("extract \(file.path)") { [trust = request.trustArchive] _ in
            let (description, contents) = try extractPodArchive(file, into: work + "/archive")
            let members = try description.members.map { member in
                var archive = try importedMember(member, path: file.path, directory: work + "/archive", contents: contents)
                archive.planFacts = try archivePlanFacts(archive)
                archive.imageFacts = trust ? nil : ImageRuleCheck.readFacts(images: archive.imagesDirectory)
                return archive
            }
            return ImportedPodArchive(path: file.path, description: description, members: members, directory: work + "/archive")
        }
    }

    private func extractPodArchive(_ file: OpenedFile, into directory: String) throws -> (PodArchiveDescription, [String: [UInt8]]) {
        let keep = { (name: String) in ArchiveInspector.isMetadata(name) || name.hasSuffix("/" + CheckpointMember.deletedFiles) }
        let result = try step("extract \(file.path)") {
            try ArchiveExtractor.extract(archive: file, into: directory, keepContentOf: keep, contentLimit: 8 << 20)
        }
        var whole = ArchiveFacts(members: result.members.map(\.archiveMember), compression: result.summary.detection.vocabulary)
        whole.readMetadata(result.contents)
        guard whole.isPodArchive else {
            throw EngineError.archiveInvalid(path: file.path, problems: ["\(file.path) has no \(PodArchiveMember.description): it is a container's archive (restore it with crpod restore --import --pod POD)"])
        }
        let pod = PodArchiveFacts(whole: whole, contents: result.contents)
        var problems = PodArchiveValidator.validate(pod).map(\.message)
        for member in result.members where keep(member.archiveMember.name) && result.contents[member.archiveMember.name] == nil {
            problems.append("\(member.archiveMember.name) is \(member.archiveMember.size) bytes, over the 8 MiB limit for metadata members")
        }
        guard problems.isEmpty, let description = pod.description else {
            throw EngineError.archiveInvalid(path: file.path, problems: problems)
        }
        return (description, result.contents)
    }

    private func importedMember(_ member: PodArchiveDescription.Member, path: String, directory: String,
                                contents: [String: [UInt8]]) throws -> ImportedArchive {
        var facts = ArchiveFacts()
        facts.readMetadata(contents, prefix: member.directory)
        guard let config = facts.config, let spec = facts.spec else {
            throw EngineError.archiveInvalid(path: path, problems: ["member \(member.name) has no readable \(CheckpointMember.config) and \(CheckpointMember.spec)"])
        }
        var deleted: [String] = []
        if let bytes = contents[member.directory + "/" + CheckpointMember.deletedFiles] {
            do { deleted = try JSONDecoder().decode([String].self, from: Data(bytes)) } catch {
                throw EngineError.archiveInvalid(path: path, problems: ["member \(member.name): \(CheckpointMember.deletedFiles) is not a JSON list of paths: \(error)"])
            }
        }
        return ImportedArchive(path: path, directory: directory + "/" + member.directory, facts: facts, config: config, spec: spec, deletedFiles: deleted)
    }

    /// Gathers the pod-level facts and asks the pure planner; all problems at once.
    func planPodRestore(_ archive: ImportedPodArchive, _ request: PodRestoreRequest, engine: EngineKind) throws -> PodRestorePlan {
        let description = archive.description
        let tcp = archive.members.compactMap { member in
            member.planFacts.map { (member.config.name ?? "", $0.tcpConnections.count) }
        }.filter { !$0.0.isEmpty && $0.1 > 0 }
        let attaching = archive.members.filter { !($0.planFacts?.sysvSegmentsAttached.isEmpty ?? true) }.map { $0.config.name ?? "" }
        let network = description.network.name
        let configured = network.map { CNINetworkConfigList.exists(name: $0, directory: settings.cniConfigDirectory) ? [$0] : [] } ?? []
        let macCapable = network.flatMap { try? CNINetworkConfigList.load(name: $0, directory: settings.cniConfigDirectory) }?.declares("mac") ?? false
        var facts = PodRestoreFacts(
            description: description, membersWithTCPConnections: Dictionary(tcp, uniquingKeysWith: +),
            membersAttachingSysVShm: Set(attaching.filter { !$0.isEmpty }),
            existingPodNames: Set(try store.pods().map(\.name)), existingContainerNames: Set(try store.containers().map(\.name)),
            configuredNetworks: Set(configured))
        facts.engineReattachesSysVShm = engine == .native && (try? settings.helperPath(Self.sysvAttachHelper)) != nil
        var options = PodRestoreOptions(newName: request.name)
        options.ignoreStaticIP = request.ignoreStaticIP
        options.ignoreStaticMAC = request.ignoreStaticMAC || !macCapable
        options.tcpEstablished = request.tcpEstablished
        options.publish = request.publish?.map { .init(hostPort: $0.hostPort, containerPort: $0.containerPort, protocol: $0.protocol.rawValue, hostIP: $0.hostIP) }
        switch PodRestorePlanner.plan(facts, options) {
        case var .success(plan):
            if !macCapable && !request.ignoreStaticMAC, let mac = description.network.mac, let network {
                plan.notes.append("the pod's MAC \(mac) is not kept: network \(network) has no plugin with the mac capability (neighbours may hold the old MAC for the address until their ARP entries expire)")
            }
            return plan
        case let .failure(problems): throw EngineError.restoreRefused(problems: problems.problems.map(\.message))
        }
    }

    /// While members are restored one by one, a restored TCP endpoint whose peer is not back
    /// yet would answer the peer's (or its own retransmitted) segments with a reset. So the
    /// new pod's network namespace drops every packet (iptables and ip6tables, INPUT and
    /// OUTPUT, as CRIU's own lock does) until the last member is restored; TCP retransmits
    /// what was dropped. A failed restore needs no unlock: the namespace goes with the pod.
    func setPodNetworkLock(_ pod: PodRecord, on: Bool) async throws {
        guard let infra = pod.infra else { return }
        for tool in ["/usr/sbin/iptables", "/usr/sbin/ip6tables"] {
            for chain in ["INPUT", "OUTPUT"] {
                let arguments = ["--net=/proc/\(infra.pid)/ns/net", tool, "-w", on ? "-I" : "-D", chain] + (on ? ["1"] : []) + ["-j", "DROP"]
                let result = try await step("\(on ? "lock" : "unlock") the network of pod \(pod.name)") { try await runner.run("/usr/bin/nsenter", arguments) }
                guard result.succeeded else {
                    throw EngineError.step("\(on ? "lock" : "unlock") the network of pod \(pod.name)",
                                           cause: DriverError.toolFailed(tool: tool, arguments: arguments, status: result.status, stderrTail: result.stderr))
                }
            }
        }
    }

    /// In a PID-sharing pod the members are restored one after another into one PID namespace,
    /// and a member already restored keeps forking (the counter's `sleep`) at the namespace's
    /// allocation cursor — which can land on a pid of a member not restored yet (seen once in
    /// CI: "pid 22 of the checkpoint is already in use in pod pp's PID namespace"). So before
    /// each member the cursor is moved past every pid of every member (`ns_last_pid`, written
    /// by a child nsenter puts into the pod's PID namespace): new forks take pids no member
    /// needs. A mitigation of a race seen once, not a proven fix: where CRIU leaves the cursor
    /// after a restore was not pinned down (measured here: above the restored pids).
    func reservePodPIDs(_ pod: PodRecord, _ archive: ImportedPodArchive) async throws {
        guard pod.shares.contains(NamespaceKind.pid.rawValue), let infra = pod.infra else { return }
        var highest: Int32 = 0
        for member in archive.members {
            let path = member.imagesDirectory + "/pstree.img"
            let pids = try step("read \(path)") { try CRIUPstree.decode(Files.read(path)).allPIDs }
            highest = max(highest, pids.max() ?? 0)
        }
        guard highest > 1 else { return }
        let operation = "reserve pids up to \(highest) in pod \(pod.name)'s PID namespace"
        let arguments = ["--pid=/proc/\(infra.pid)/ns/pid", "/bin/sh", "-c", "echo \(highest) > /proc/sys/kernel/ns_last_pid"]
        let result = try await step(operation) { try await runner.run("/usr/bin/nsenter", arguments) }
        guard result.succeeded else {
            throw EngineError.step(operation, cause: DriverError.toolFailed(tool: "/usr/bin/nsenter", arguments: arguments, status: result.status, stderrTail: result.stderr))
        }
    }

    func podCreateRequest(_ plan: PodRestorePlan, _ request: PodRestoreRequest) -> PodCreateRequest {
        let publish = plan.publish.map {
            CNIPortMapping(hostPort: $0.hostPort, containerPort: $0.containerPort, protocol: CNIPortMapping.IPProtocol(rawValue: $0.protocol) ?? .tcp, hostIP: $0.hostIP)
        }
        var create = PodCreateRequest(name: plan.podName, shares: plan.shares, cgroupParent: request.cgroupParent, hostname: plan.hostname,
                                      network: plan.network, staticIP: plan.staticIP, publish: publish)
        create.staticMAC = plan.staticMAC
        create.origin = request.origin
        return create
    }
}
