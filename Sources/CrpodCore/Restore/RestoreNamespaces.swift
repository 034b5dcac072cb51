/// The namespaces a pod can share: one table, so the rules run as a loop over it.
struct PodNamespaceKind: Sendable, Equatable {
    /// The /proc name (`net`), as pods and checkpoint facts spell it.
    let procName: String
    /// The OCI type (`network`), as runc wants it.
    let ociType: String
    /// The name in messages (`network`, `IPC`).
    let displayName: String

    /// In `OCINamespaceType.all` order.
    static let all = [
        PodNamespaceKind(procName: "ipc", ociType: OCINamespaceType.ipc, displayName: "IPC"),
        PodNamespaceKind(procName: "net", ociType: OCINamespaceType.network, displayName: "network"),
        PodNamespaceKind(procName: "pid", ociType: OCINamespaceType.pid, displayName: "PID"),
        PodNamespaceKind(procName: "uts", ociType: OCINamespaceType.uts, displayName: "UTS"),
        PodNamespaceKind(procName: "cgroup", ociType: OCINamespaceType.cgroup, displayName: "cgroup"),
    ]

    static func displayName(of procName: String) -> String {
        all.first { $0.procName == procName }?.displayName ?? procName
    }

    /// /proc name for either spelling (`network` → `net`, `mount` → `mnt`).
    static func procName(_ name: String) -> String {
        switch name {
        case OCINamespaceType.network: "net"
        case OCINamespaceType.mount: "mnt"
        default: name
        }
    }

    /// OCI type for either spelling (`net` → `network`, `mnt` → `mount`); unknown names pass.
    static func ociType(_ name: String) -> String {
        switch procName(name) {
        case "net": OCINamespaceType.network
        case "mnt": OCINamespaceType.mount
        case let other: other
        }
    }
}

/// How the restored container's namespaces are set up, and what stops it.
struct NamespaceLayout: Sendable, Equatable {
    /// OCI type → `/proc/<infra pid>/ns/<proc name>`.
    var join: [String: String] = [:]
    /// OCI types, in `OCINamespaceType.all` order.
    var privateTypes: [String] = []
    var problems: [RestoreProblem] = []
    var notes: [String] = []

    /// Joined or private, with the other private namespaces (mnt, user, ...) added and sorted.
    mutating func finish(extraPrivate: Set<String>) {
        let all = Set(privateTypes).union(extraPrivate.map(PodNamespaceKind.ociType))
        privateTypes = all.sorted { (OCINamespaceType.order($0), $0) < (OCINamespaceType.order($1), $1) }
    }
}

enum RestoreNamespaces {
    /// A container restored on its own: everything it had stays private. A namespace it had
    /// joined by path (not a pod's) becomes private too, never the host's.
    static func standalone(archive: ArchivePlanFacts) -> NamespaceLayout {
        var layout = NamespaceLayout()
        let shared = Set(archive.sharedNamespaces.map(PodNamespaceKind.procName))
        for kind in PodNamespaceKind.all where shared.contains(kind.procName) {
            layout.privateTypes.append(kind.ociType)
            layout.notes.append(
                "the checkpoint joined a \(kind.displayName) namespace by path; "
                    + "restored without a pod, it gets a new private one")
        }
        layout.finish(extraPrivate: archive.privateNamespaces)
        return layout
    }

    /// A pod checkpoint restored into `pod`: rules 6 and 7, one namespace kind at a time.
    static func intoPod(
        archive: ArchivePlanFacts, pod: PodPlanFacts, allowPrivatePID: Bool
    ) -> NamespaceLayout {
        var layout = NamespaceLayout()
        let shared = Set(archive.sharedNamespaces.map(PodNamespaceKind.procName))
        let own = Set(archive.privateNamespaces.map(PodNamespaceKind.procName))
        let podShares = Set(pod.shares.map(PodNamespaceKind.procName))
        for kind in PodNamespaceKind.all {
            let state = CheckpointState(shared: shared.contains(kind.procName), own: own.contains(kind.procName))
            place(kind, state: state, podShares: podShares.contains(kind.procName),
                  pod: pod, allowPrivatePID: allowPrivatePID, into: &layout)
        }
        let handled = Set(PodNamespaceKind.all.map(\.procName))
        layout.finish(extraPrivate: own.subtracting(handled))
        return layout
    }

    /// What the checkpoint did with one namespace kind. Shared wins over private.
    enum CheckpointState {
        case shared, own, host

        init(shared: Bool, own: Bool) {
            self = shared ? .shared : (own ? .own : .host)
        }
    }

    private static func place(
        _ kind: PodNamespaceKind, state: CheckpointState, podShares: Bool,
        pod: PodPlanFacts, allowPrivatePID: Bool, into layout: inout NamespaceLayout
    ) {
        switch (state, podShares) {
        case (.shared, false):
            layout.problems.append(.namespaceNotShared(pod: pod.name, namespace: kind.procName))
        case (.shared, true) where kind.procName == "cgroup":
            layout.problems.append(.cgroupNamespaceJoinUnsupported(pod: pod.name))
        case (.shared, true):
            if let infra = pod.infraPID {
                layout.join[kind.ociType] = "/proc/\(infra)/ns/\(kind.procName)"
            }
        case (.own, true) where kind.procName == "pid" && !allowPrivatePID:
            layout.problems.append(.privatePIDInSharedPod(pod: pod.name))
        case (.own, true):
            layout.privateTypes.append(kind.ociType)
            layout.notes.append(privateKeptNote(kind, pod: pod.name))
        case (.own, false):
            layout.privateTypes.append(kind.ociType)
        case (.host, true):
            layout.notes.append(
                "the checkpoint used the host's \(kind.displayName) namespace; the restored container "
                    + "keeps using it and does not join pod \(pod.name)'s")
        case (.host, false):
            break
        }
    }

    private static func privateKeptNote(_ kind: PodNamespaceKind, pod: String) -> String {
        if kind.procName == "pid" {
            return "the checkpoint had a private PID namespace; as --allow-private-pid asks, it gets "
                + "a new PID namespace of its own instead of joining pod \(pod)'s"
        }
        return "the checkpoint had a private \(kind.displayName) namespace; it stays private "
            + "and does not join pod \(pod)'s shared one (as podman does)"
    }

    /// Rule 8: with a shared PID namespace on both sides, every checkpoint PID must be free.
    static func pidCollisions(archive: ArchivePlanFacts, pod: PodPlanFacts) -> [RestoreProblem] {
        let shared = Set(archive.sharedNamespaces.map(PodNamespaceKind.procName))
        let podShares = Set(pod.shares.map(PodNamespaceKind.procName))
        guard shared.contains("pid"), podShares.contains("pid") else { return [] }
        return Set(archive.checkpointPIDs).intersection(pod.pidsInUse).sorted()
            .map { .pidInUse(pid: $0, pod: pod.name) }
    }
}
