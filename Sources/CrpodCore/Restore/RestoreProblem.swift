/// One reason a checkpoint cannot be restored as asked. `code` is stable (scripts and tests
/// match on it); `message` is one line for people. Namespace names are the /proc ones.
public enum RestoreProblem: Sendable, Equatable, CustomStringConvertible {
    /// The checkpoint was taken in a pod and no `--pod` was given.
    case podRequired(checkpointPodID: String)
    /// The checkpoint was not taken in a pod and `--pod` was given.
    case notAPodContainer(podReference: String)
    case hasDependencies(container: String, dependencies: [String])
    /// `found` is nil when CRIU's version is unknown.
    case criuTooOld(found: Int?, required: Int)
    case runtimeLacksPodRestore(runtimePath: String)
    case podNotFound(reference: String)
    case infraNotRunning(pod: String)
    /// The checkpoint shared `namespace` with its pod; the target pod does not share it.
    case namespaceNotShared(pod: String, namespace: String)
    /// The checkpoint had a private PID namespace; the target pod shares its PID namespace.
    case privatePIDInSharedPod(pod: String)
    /// The checkpoint shared its pod's cgroup namespace; runc cannot join one on restore.
    case cgroupNamespaceJoinUnsupported(pod: String)
    case pidInUse(pid: Int32, pod: String)
    case nameInUse(name: String, renamed: Bool)
    case invalidName(name: String, reason: String)
    /// The checkpoint's own container id is not an id (it would become paths and runc's id).
    case invalidID(id: String)
    /// The checkpoint holds established TCP connections and `--tcp-established` was not given.
    case tcpNeedsFlag(connections: Int)
    /// The connections were made from `addresses`, which the target does not have.
    case tcpAddressUnavailable(connections: Int, addresses: [String], target: String, targetAddresses: [String])
    /// Rule 11: tasks with SysV segments of another pod's IPC namespace attached.
    case sysvShmFromAnotherPod(segments: [UInt64], pod: String)

    /// The stable codes, one per case.
    public enum Code {
        public static let podRequired = "pod-required"
        public static let notAPodContainer = "not-a-pod-container"
        public static let hasDependencies = "has-dependencies"
        public static let criuTooOld = "criu-too-old"
        public static let runtimeLacksPodRestore = "runtime-lacks-pod-restore"
        public static let podNotFound = "pod-not-found"
        public static let infraNotRunning = "infra-not-running"
        public static let namespaceNotShared = "namespace-not-shared"
        public static let privatePIDInSharedPod = "private-pid-in-shared-pod"
        public static let cgroupNamespaceJoinUnsupported = "cgroupns-join-unsupported"
        public static let pidInUse = "pid-in-use"
        public static let nameInUse = "name-in-use"
        public static let invalidName = "invalid-name"
        public static let invalidID = "invalid-id"
        public static let tcpNeedsFlag = "tcp-needs-flag"
        public static let tcpAddressUnavailable = "tcp-address-unavailable"
        public static let sysvShmFromAnotherPod = "sysv-shm-from-another-pod"
    }

    public var code: String {
        switch self {
        case .podRequired: Code.podRequired
        case .notAPodContainer: Code.notAPodContainer
        case .hasDependencies: Code.hasDependencies
        case .criuTooOld: Code.criuTooOld
        case .runtimeLacksPodRestore: Code.runtimeLacksPodRestore
        case .podNotFound: Code.podNotFound
        case .infraNotRunning: Code.infraNotRunning
        case .namespaceNotShared: Code.namespaceNotShared
        case .privatePIDInSharedPod: Code.privatePIDInSharedPod
        case .cgroupNamespaceJoinUnsupported: Code.cgroupNamespaceJoinUnsupported
        case .pidInUse: Code.pidInUse
        case .nameInUse: Code.nameInUse
        case .invalidName: Code.invalidName
        case .invalidID: Code.invalidID
        case .tcpNeedsFlag: Code.tcpNeedsFlag
        case .tcpAddressUnavailable: Code.tcpAddressUnavailable
        case .sysvShmFromAnotherPod: Code.sysvShmFromAnotherPod
        }
    }

    public var message: String {
        switch self {
        case .podRequired:
            "cannot restore pod container without --pod"
        case .notAPodContainer:
            "cannot restore non pod container into pod"
        case let .hasDependencies(container, dependencies):
            "container \(container) has dependencies: \(dependencies.joined(separator: ", "))"
                + "; only containers without dependencies can be restored"
        case let .criuTooOld(found, required):
            "restoring containers into pods requires at least CRIU \(criuVersionText(required)); "
                + (found.map { "found CRIU \(criuVersionText($0))" } ?? "the CRIU version is unknown")
        case let .runtimeLacksPodRestore(runtimePath):
            "runtime \(runtimePath) does not support pod restore"
        case let .podNotFound(reference):
            "pod \(quoted(reference)) cannot be retrieved: no pod with that name or ID exists"
        case let .infraNotRunning(pod):
            "pod \(pod) infra process is not running; start the pod before restoring into it"
        case let .namespaceNotShared(pod, namespace):
            "pod \(pod) does not share the \(NamespaceKind(eitherSpelling: namespace).displayName) namespace"
        case let .privatePIDInSharedPod(pod):
            "the checkpoint has a private PID namespace but pod \(pod) shares its PID namespace; "
                + "pass --allow-private-pid to restore it with a PID namespace of its own in the pod"
        case let .cgroupNamespaceJoinUnsupported(pod):
            "the checkpoint shared its pod's cgroup namespace and pod \(pod) shares one too, "
                + "but runc cannot join a cgroup namespace on restore "
                + "(\"Do not know how to handle namespace NEWCGROUP\")"
        case let .pidInUse(pid, pod):
            "pid \(pid) of the checkpoint is already in use in pod \(pod)'s PID namespace"
        case let .nameInUse(name, renamed):
            "the container name \(quoted(name)) is already in use; "
                + (renamed ? "choose another with --name" : "restore under another name with --name")
        case let .invalidName(name, reason):
            "invalid container name \(quoted(name)): \(reason)"
        case let .invalidID(id):
            "the checkpoint's container ID \(quoted(String(id.prefix(80)))) is not 64 lowercase hex digits: restore with --name to get a new one"
        case let .tcpNeedsFlag(connections):
            "the archive holds \(connections) established TCP connection(s) (checkpointed with --tcp-established): "
                + "restore with --tcp-established, which needs the same IP address the connections were made from"
        case let .tcpAddressUnavailable(connections, addresses, target, targetAddresses):
            "the archive's \(connections) established TCP connection(s) were made from \(addresses.joined(separator: ", ")), "
                + "which \(target) does not have (" + (targetAddresses.isEmpty ? "it has only loopback" : "it has \(targetAddresses.joined(separator: ", "))")
                + "): the peers know no other address, so the connections cannot continue"
        case let .sysvShmFromAnotherPod(segments, pod):
            "the checkpoint's tasks have SysV shared memory attached (segment id \(segments.map(String.init).joined(separator: ", "))) "
                + "of their old pod's IPC namespace; pod \(pod)'s IPC namespace does not hold those segments, so they cannot be mapped again: "
                + "restore the whole pod (crpod pod checkpoint, then pod restore), restore into the pod the container came from, "
                + "or share memory through /dev/shm (POSIX shm_open/mmap), which a member's archive carries"
        }
    }

    public var description: String { message }
}

/// Every problem that stops a restore, in the order the rules are checked.
public struct RestoreProblems: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [RestoreProblem]

    public init(problems: [RestoreProblem]) {
        self.problems = problems
    }

    public var codes: [String] { problems.map(\.code) }

    /// One line: the message alone, or "N problems: (1) … (2) …" (messages contain "; ",
    /// so numbering keeps them apart).
    public var description: String {
        guard problems.count > 1 else { return problems.first?.message ?? "no restore problems" }
        let numbered = problems.enumerated().map { "(\($0.offset + 1)) \($0.element.message)" }
        return "\(problems.count) problems: " + numbered.joined(separator: " ")
    }
}

/// `31600 (3.16.0)`.
func criuVersionText(_ version: Int) -> String {
    "\(version) (\(version / 10000).\(version / 100 % 100).\(version % 100))"
}
