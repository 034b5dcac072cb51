import CrpodCore
import CrpodDrivers
import CrpodLinux

public struct PodCreateRequest: Sendable, Codable {
    public var name: String
    /// /proc names (ipc, net, uts, pid, cgroup); podman's default is ipc,net,uts.
    public var shares: [String]
    public var cgroupParent: String?
    public var hostname: String?
    /// `none`, `host` or a CNI network name; nil = the default (see `Engine.planNetwork`).
    public var network: String?
    /// A static address for the CNI network (host-local's `ips` capability).
    public var staticIP: String?
    /// Ports published through portmap's `portMappings` capability.
    public var publish: [CNIPortMapping]
    /// The interface's MAC address (bridge's `mac` capability); set by a pod restore.
    public var staticMAC: String? = nil
    /// The size of the pod's /dev/shm in bytes (only with ipc shared); nil = 64 MiB, podman's default.
    public var shmSize: UInt64? = nil
    /// `PodRecord.origin`; set by the spool, never on the wire.
    public var origin: String? = nil

    public init(name: String, shares: [String] = ShareList.podDefault, cgroupParent: String? = nil, hostname: String? = nil,
                network: String? = nil, staticIP: String? = nil, publish: [CNIPortMapping] = []) {
        self.name = name
        self.shares = shares
        self.cgroupParent = cgroupParent
        self.hostname = hostname
        self.network = network
        self.staticIP = staticIP
        self.publish = publish
    }
}

/// A pod with its live facts, as `pod ls` and `pod inspect` show it.
public struct PodView: Codable, Sendable {
    public var record: PodRecord
    public var infraRunning: Bool
    public var containers: [String]
    public var status: String { infraRunning ? "Running" : "Exited" }
}

extension Engine {
    public func createPod(_ request: PodCreateRequest) async throws -> PodRecord {
        try NameRule.validate(request.name, what: "pod name")
        return try await locked {
            try await withRollback("create pod \(request.name)") { rollback in
                try await createPodLocked(request, rollback: rollback)
            }
        }
    }

    /// `createPod` under the state lock, its undo steps in `rollback` (a pod restore shares it).
    /// `lockNetwork`: the pod's network namespace drops every packet (`setPodNetworkLock`) from
    /// before its address comes up — a pod restore with TCP connections, whose peers retransmit
    /// into the address at any moment and must not get a reset before the sockets are back.
    func createPodLocked(_ request: PodCreateRequest, rollback: Rollback, lockNetwork: Bool = false) async throws -> PodRecord {
        let parent = try validatedParent(request.cgroupParent ?? settings.cgroupParent)
        let network = try planNetwork(request)
        try validateShmSize(request)
        if let existing = try store.pods().first(where: { $0.name == request.name }) {
            throw EngineError.nameInUse(kind: "pod", name: request.name, id: existing.id)
        }
        let id = ObjectID.generate().rawValue
        var pod = PodRecord(
            id: id, name: request.name, shares: network.shares,
            hostname: request.shares.contains(NamespaceKind.uts.rawValue) ? (request.hostname ?? request.name) : nil,
            cgroupParent: parent, cgroupPath: parent + "/" + id, infra: nil, namespaces: [],
            processLabel: nil, mountLabel: nil, created: timestamp())
        pod.origin = request.origin
        try await startInfra(&pod, rollback: rollback)
        try createPodShm(&pod, sizeBytes: request.shmSize ?? Self.podShmBytes, rollback: rollback)
        FaultPoint.podAfterShm.hit()
        if lockNetwork && pod.shares.contains(NamespaceKind.net.rawValue) { try await setPodNetworkLock(pod, on: true) }
        try await attachNetwork(&pod, plan: network, rollback: rollback)
        // Undone only when a larger operation (a pod restore) fails after the pod exists.
        try rollback.add(.removeTree("\(store.podsDirectory)/\(pod.id).json"))
        try store.save(pod)
        logger.info("pod created", metadata: ["pod": "\(pod.name)", "id": "\(id)"])
        return pod
    }

    /// Creates the pod cgroup in every hierarchy and starts crpod-pause inside it.
    func startInfra(_ pod: inout PodRecord, rollback: Rollback) async throws {
        let cgroups = try cgroups()
        let cgroupPath = pod.cgroupPath
        try rollback.add(.removeCgroup(cgroupPath))
        // cgroup v2 forbids processes in a cgroup that hands controllers to its children, so a
        // delegating pod keeps its infra in a child cgroup. Not when members share the infra's
        // cgroup namespace: its root would then be that child, and members would see `/../<id>`.
        let delegate = !pod.shares.contains(NamespaceKind.cgroup.rawValue)
        let delegated = try step("create pod cgroup \(cgroupPath)") { try cgroups.createDelegating(cgroupPath, delegateFromLeaf: delegate) }
        let infraCgroup = delegated.isEmpty ? cgroupPath : cgroupPath + "/" + Self.infraCgroupName
        if infraCgroup != cgroupPath { try step("create \(infraCgroup)") { try cgroups.create(infraCgroup) } }
        FaultPoint.podAfterCgroup.hit()
        let infra = try await launchInfra(pod, procsFiles: try cgroups.procsFiles(infraCgroup))
        try rollback.add(.terminate(infra))
        FaultPoint.podAfterInfra.hit()
        pod.infra = infra
        pod.namespaces = try step("read infra namespaces") { try NamespaceRef.all(pid: infra.pid) }
        pod.processLabel = try step("read infra SELinux label") { try SELinux.processLabel(pid: infra.pid) }
        pod.mountLabel = try step("read SELinux mount label") { try SELinux.fileLabel(path: "/proc/\(infra.pid)/root") }
    }

    /// The infra's own cgroup inside a pod cgroup that delegates controllers (v2).
    static let infraCgroupName = "infra"

    private func launchInfra(_ pod: PodRecord, procsFiles: [String]) async throws -> ProcessIdentity {
        try await launchPause(owner: "pod \(pod.name)", shares: pod.shares, hostname: pod.hostname, procsFiles: procsFiles)
    }

    /// Starts crpod-pause holding new namespaces of the given kinds; returns its identity.
    func launchPause(owner: String, shares: [String], hostname: String?, procsFiles: [String]) async throws -> ProcessIdentity {
        let pause = try settings.helperPath("crpod-pause")
        var arguments = shares.isEmpty ? [] : ["--share", shares.joined(separator: ",")]
        if let hostname { arguments += ["--hostname", hostname] }
        for file in procsFiles { arguments += ["--cgroup-procs", file] }
        let result = try await step("start \(pause)") { try await runner.run(pause, arguments) }
        guard result.succeeded, let pid = Int32(result.stdout.trimmingCharacters(in: " \n")) else {
            throw EngineError.infraStartFailed(pod: owner, detail: "\(result.status): \(result.stderr.trimmingCharacters(in: " \n"))")
        }
        return try step("identify crpod-pause pid \(pid)") { try ProcessIdentity.of(pid: pid) }
    }

    private func validatedParent(_ parent: String) throws -> String {
        let trimmed = parent.count > 1 && parent.hasSuffix("/") ? String(parent.dropLast()) : parent
        do { return try validatedCgroupPath(trimmed) } catch {
            throw EngineError.invalidInput(what: "cgroup parent", detail: "\"\(parent)\" must be an absolute cgroup path without . or ..")
        }
    }

    public func listPods() throws -> [PodView] {
        let containers = try store.containers()
        return try store.pods().map { view(of: $0, containers: containers) }
    }

    public func inspectPod(_ reference: String) throws -> PodView {
        view(of: try store.pod(reference), containers: try store.containers())
    }

    func view(of pod: PodRecord, containers: [ContainerRecord]) -> PodView {
        PodView(record: pod, infraRunning: pod.infra?.isAlive() ?? false,
                containers: containers.filter { $0.podID == pod.id }.map(\.name))
    }

    /// Removes a pod: refuses while it has containers unless `force`, which removes them first.
    public func removePod(_ reference: String, force: Bool) async throws -> PodRecord {
        try await locked {
            let pod = try store.pod(reference)
            let members = try store.containers().filter { $0.podID == pod.id }
            if !members.isEmpty && !force {
                throw EngineError.podHasContainers(pod: pod.name, containers: members.map(\.name))
            }
            for member in members { try await removeContainerLocked(member, force: true) }
            await detachNetwork(pod)
            if let infra = pod.infra {
                try step("stop infra of pod \(pod.name)") { try Processes.terminate(infra, grace: 2) }
            }
            let cgroups = try cgroups()
            try step("remove pod cgroup \(pod.cgroupPath)") { try cgroups.killAndRemove(pod.cgroupPath) }
            removePodShm(pod)
            try store.deletePod(pod.id)
            logger.info("pod removed", metadata: ["pod": "\(pod.name)"])
            return pod
        }
    }
}
