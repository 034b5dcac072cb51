/// What a whole-pod restore learned before planning: the archive's pod, the members' facts
/// that matter to the pod as a whole, and this host's names and networks.
public struct PodRestoreFacts: Sendable, Equatable {
    public var description: PodArchiveDescription
    /// Member name → how many established TCP connections its images hold (`tcp-stream-*.img`);
    /// members without any are left out.
    public var membersWithTCPConnections: [String: Int]
    /// Member names whose tasks have System V shm segments attached (`CRIUMemoryMap`).
    public var membersAttachingSysVShm: Set<String>
    public var existingPodNames: Set<String>
    public var existingContainerNames: Set<String>
    /// CNI networks configured here, by name.
    public var configuredNetworks: Set<String>
    /// The container engine can restore a member stopped and attach SysV segments in it
    /// before it runs (the native engine with crpod-shmattach; runc cannot).
    public var engineReattachesSysVShm = false

    public init(description: PodArchiveDescription, membersWithTCPConnections: [String: Int] = [:],
                membersAttachingSysVShm: Set<String> = [], existingPodNames: Set<String> = [],
                existingContainerNames: Set<String> = [], configuredNetworks: Set<String> = []) {
        self.description = description
        self.membersWithTCPConnections = membersWithTCPConnections
        self.membersAttachingSysVShm = membersAttachingSysVShm
        self.existingPodNames = existingPodNames
        self.existingContainerNames = existingContainerNames
        self.configuredNetworks = configuredNetworks
    }
}

public struct PodRestoreOptions: Sendable, Equatable {
    /// `--name NEWPOD`; nil keeps the archive's pod name.
    public var newName: String?
    public var ignoreStaticIP = false
    public var ignoreStaticMAC = false
    /// `--publish`; nil keeps the archive's published ports.
    public var publish: [PodArchiveDescription.Port]?
    /// `--tcp-established`; nil decides from the archive (on when a member holds connections
    /// and the pod keeps its address), as `RestorePlanOptions.tcpEstablished`.
    public var tcpEstablished: Bool?

    public init(newName: String? = nil) { self.newName = newName }
}

/// The pod restore, decided: the pod to create and its members in order.
public struct PodRestorePlan: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var name: String
        /// The member that re-creates the old pod's SysV IPC objects in the new pod's IPC
        /// namespace (the first, when the pod shares ipc); the others drop their copies.
        public var carriesPodIPC: Bool
        /// A later member with the pod's SysV segments attached: attached again after CRIU.
        public var reattachesPodSysVShm = false
    }

    public var podName: String
    public var shares: [String]
    public var hostname: String?
    /// `none`, `host` or a CNI network's name.
    public var network: String
    /// The address to ask host-local for (no prefix length), nil for any.
    public var staticIP: String?
    public var staticMAC: String?
    public var publish: [PodArchiveDescription.Port]
    public var members: [Member]
    /// Restore the members with `--tcp-established` (decided by `tcpProblems`' rule).
    public var tcpEstablished: Bool
    public var notes: [String]
}

/// Pure: pod archive facts and options → a plan, or every problem at once (stable codes).
public enum PodRestorePlanner {
    public enum Code {
        public static let podNameInUse = "pod-name-in-use"
        public static let containerNameInUse = "container-name-in-use"
        public static let networkMissing = "network-missing"
        public static let tcpNeedsSameAddress = "tcp-needs-same-address"
        public static let tcpNeedsFlag = "tcp-needs-flag"
        public static let sharedSysVShm = "shm-attached-by-several-members"
    }

    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var code: String
        public var message: String
        public var description: String { message }
    }

    public static func plan(_ facts: PodRestoreFacts, _ options: PodRestoreOptions) -> Result<PodRestorePlan, PodRestoreProblems> {
        let pod = facts.description
        let name = options.newName ?? pod.name
        var problems: [Problem] = []
        if facts.existingPodNames.contains(name) {
            problems.append(.init(code: Code.podNameInUse, message: "a pod named \(quoted(name)) exists: remove it or restore with --name NEWPOD"))
        }
        for member in pod.members where facts.existingContainerNames.contains(member.name) {
            problems.append(.init(code: Code.containerNameInUse, message: "a container named \(quoted(member.name)) exists: remove it first (members keep their names)"))
        }
        let network = pod.network.mode == "cni" ? (pod.network.name ?? "") : pod.network.mode
        if pod.network.mode == "cni" && !facts.configuredNetworks.contains(network) {
            problems.append(.init(code: Code.networkMissing, message: "the pod was on CNI network \(quoted(network)), which is not configured here"))
        }
        let tcp = tcpDecision(facts, options)
        problems += tcp.problems
        let attaching = pod.members.map(\.name).filter(facts.membersAttachingSysVShm.contains)
        if pod.shares.contains("ipc") && attaching.count > 1 && !facts.engineReattachesSysVShm {
            problems.append(.init(code: Code.sharedSysVShm, message: "members \(attaching.joined(separator: ", ")) each have SysV shared memory attached: "
                + "CRIU maps a segment only in the restore that re-creates it, and only the native engine attaches it again in the "
                + "other members (restore with --engine native; members that share memory through /dev/shm — POSIX shm_open/mmap — are carried by both)"))
        }
        guard problems.isEmpty else { return .failure(PodRestoreProblems(problems: problems)) }
        let staticIP = options.ignoreStaticIP ? nil : pod.network.addresses.first.map(addressWithoutPrefix)
        let carrier = pod.shares.contains("ipc") ? carrierOfIPC(pod, attaching: attaching, reattaches: facts.engineReattachesSysVShm) : nil
        return .success(PodRestorePlan(
            podName: name, shares: pod.shares, hostname: pod.hostname, network: network, staticIP: staticIP,
            staticMAC: options.ignoreStaticMAC ? nil : pod.network.mac, publish: options.publish ?? pod.network.published,
            members: pod.members.map { member in
                .init(name: member.name, carriesPodIPC: member.name == carrier,
                      reattachesPodSysVShm: carrier != nil && member.name != carrier && attaching.contains(member.name))
            },
            tcpEstablished: tcp.on, notes: notes(pod, carrier: carrier, options)))
    }

    /// The member whose images re-create the pod's SysV objects. When the engine attaches
    /// segments itself, the first member: every IPC object (semaphores, queues, segments) then
    /// exists before any other member is restored and runs. Otherwise the first member that
    /// attaches a segment (CRIU maps it only in the restore that creates it), else the first.
    static func carrierOfIPC(_ pod: PodArchiveDescription, attaching: [String], reattaches: Bool) -> String? {
        reattaches ? pod.members.first?.name : (attaching.first ?? pod.members.first?.name)
    }

    /// A dumped connection continues only from the address it was dumped at; CRIU also
    /// needs `--tcp-established` to restore one at all. Explicit false refuses an archive
    /// holding connections; nil (the spool, an API request without the field) turns it on then.
    static func tcpDecision(_ facts: PodRestoreFacts, _ options: PodRestoreOptions) -> (on: Bool, problems: [Problem]) {
        let counts = facts.membersWithTCPConnections.filter { $0.value > 0 }
        let holders = counts.keys.sorted()
        guard !holders.isEmpty else { return (options.tcpEstablished ?? false, []) }
        guard options.tcpEstablished ?? true else {
            let total = counts.values.reduce(0, +)
            let addresses = facts.description.network.addresses
            return (false, [.init(code: Code.tcpNeedsFlag, message: "the archive holds \(total) established TCP connection(s) "
                + "(members \(holders.map { "\($0) (\(counts[$0] ?? 0))" }.joined(separator: ", ")); checkpointed with --tcp-established): "
                + "restore with --tcp-established, which needs the same IP address"
                + (addresses.isEmpty ? "" : " (the pod had \(addresses.joined(separator: ", ")))"))])
        }
        guard options.ignoreStaticIP, !facts.description.network.addresses.isEmpty else { return (true, []) }
        return (true, [.init(code: Code.tcpNeedsSameAddress, message: "--tcp-established needs the pod's address (\(facts.description.network.addresses.joined(separator: ", "))) "
            + "and --ignore-static-ip gives it another: the connections of \(holders.joined(separator: ", ")) could not continue")])
    }

    static func notes(_ pod: PodArchiveDescription, carrier: String?, _ options: PodRestoreOptions) -> [String] {
        var notes: [String] = []
        if let carrier {
            notes.append("the pod's SysV IPC objects are re-created once, from \(carrier)'s images, in the new pod's IPC namespace")
        }
        if options.ignoreStaticIP, let address = pod.network.addresses.first { notes.append("the pod had \(address); the network picks a new address") }
        return notes
    }

    static func addressWithoutPrefix(_ cidr: String) -> String {
        String(cidr.split(separator: "/", maxSplits: 1).first ?? Substring(cidr))
    }
}

public struct PodRestoreProblems: Error, Sendable, Equatable {
    public var problems: [PodRestorePlanner.Problem]
}
