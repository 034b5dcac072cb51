extension NamespaceKind {
    /// The kind for either spelling (`network` → net, `mount` → mnt, `net` → net).
    init(eitherSpelling name: String) { self.init(ociType: name) }

    /// /proc name for either spelling (`network` → `net`, `mount` → `mnt`).
    static func procName(_ name: String) -> String { NamespaceKind(eitherSpelling: name).rawValue }

    /// OCI type for either spelling (`net` → `network`, `mnt` → `mount`); unknown names pass.
    static func ociType(_ name: String) -> String { NamespaceKind(eitherSpelling: name).ociType }
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
        let all = Set(privateTypes).union(extraPrivate.map(NamespaceKind.ociType))
        privateTypes = all.sorted { (OCINamespaceType.order($0), $0) < (OCINamespaceType.order($1), $1) }
    }
}

enum RestoreNamespaces {
    /// A container restored on its own: everything it had stays private. A namespace it had
    /// joined by path (not a pod's) becomes private too, never the host's.
    static func standalone(archive: ArchivePlanFacts) -> NamespaceLayout {
        var layout = NamespaceLayout()
        let shared = Set(archive.sharedNamespaces.map(NamespaceKind.procName))
        for kind in NamespaceKind.podShareable where shared.contains(kind.rawValue) {
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
        let shared = Set(archive.sharedNamespaces.map(NamespaceKind.procName))
        let own = Set(archive.privateNamespaces.map(NamespaceKind.procName))
        let podShares = Set(pod.shares.map(NamespaceKind.procName))
        for kind in NamespaceKind.podShareable {
            let state = CheckpointState(shared: shared.contains(kind.rawValue), own: own.contains(kind.rawValue))
            place(kind, state: state, podShares: podShares.contains(kind.rawValue),
                  pod: pod, allowPrivatePID: allowPrivatePID, into: &layout)
        }
        let handled = Set(NamespaceKind.podShareable.map(\.rawValue))
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
        _ kind: NamespaceKind, state: CheckpointState, podShares: Bool,
        pod: PodPlanFacts, allowPrivatePID: Bool, into layout: inout NamespaceLayout
    ) {
        switch (state, podShares) {
        case (.shared, false):
            layout.problems.append(.namespaceNotShared(pod: pod.name, namespace: kind.rawValue))
        case (.shared, true) where kind == .cgroup:
            layout.problems.append(.cgroupNamespaceJoinUnsupported(pod: pod.name))
        case (.shared, true):
            if let infra = pod.infraPID {
                layout.join[kind.ociType] = "/proc/\(infra)/ns/\(kind.rawValue)"
            }
        case (.own, true) where kind == .pid && !allowPrivatePID:
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

    private static func privateKeptNote(_ kind: NamespaceKind, pod: String) -> String {
        if kind == .pid {
            return "the checkpoint had a private PID namespace; as --allow-private-pid asks, it gets "
                + "a new PID namespace of its own instead of joining pod \(pod)'s"
        }
        return "the checkpoint had a private \(kind.displayName) namespace; it stays private "
            + "and does not join pod \(pod)'s shared one (as podman does)"
    }

    /// Rule 8: with a shared PID namespace on both sides, every checkpoint PID must be free.
    static func pidCollisions(archive: ArchivePlanFacts, pod: PodPlanFacts) -> [RestoreProblem] {
        let shared = Set(archive.sharedNamespaces.map(NamespaceKind.procName))
        let podShares = Set(pod.shares.map(NamespaceKind.procName))
        guard shared.contains("pid"), podShares.contains("pid") else { return [] }
        return Set(archive.checkpointPIDs).intersection(pod.pidsInUse).sorted()
            .map { .pidInUse(pid: $0, pod: pod.name) }
    }
}
