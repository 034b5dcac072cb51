import Testing
@testable import CrpodCore

/// Every rule, accepting and refusing. Accepted rows must plan; refused rows must report
/// exactly the listed codes, in order, with the contract words in the messages.
enum RestoreRuleTable {
    typealias F = RestoreFixture
    typealias Code = RestoreProblem.Code
    typealias RuleCase = RestoreRuleCase

    static let all: [RuleCase] = [
        // 1 and 2: pod checkpoint ↔ --pod
        RuleCase(label: "pod checkpoint into a pod"),
        RuleCase(label: "pod checkpoint without --pod", pod: nil, options: F.options(pod: nil),
                 codes: [Code.podRequired], words: ["cannot restore pod container without --pod"]),
        RuleCase(label: "non-pod checkpoint without --pod", archive: F.archive(podID: nil, shared: []),
                 pod: nil, options: F.options(pod: nil)),
        RuleCase(label: "non-pod checkpoint with --pod", archive: F.archive(podID: nil, shared: []),
                 codes: [Code.notAPodContainer], words: ["cannot restore non pod container into pod"]),
        // 3: dependencies
        RuleCase(label: "dependencies", archive: F.archive(dependencies: ["dep1", "dep2"]),
                 codes: [Code.hasDependencies], words: ["app has dependencies", "dep1, dep2"]),
        // 4: CRIU and runtime
        RuleCase(label: "CRIU exactly 3.16.0", host: F.host(criu: 31600)),
        RuleCase(label: "CRIU too old", host: F.host(criu: 31599), codes: [Code.criuTooOld],
                 words: ["restoring containers into pods requires at least CRIU 31600", "found CRIU 31599 (3.15.99)"]),
        RuleCase(label: "CRIU unknown", host: F.host(criu: nil), codes: [Code.criuTooOld],
                 words: ["requires at least CRIU 31600", "CRIU version is unknown"]),
        RuleCase(label: "runtime without pod restore", host: F.host(runtimeOK: false),
                 codes: [Code.runtimeLacksPodRestore], words: ["runtime /usr/sbin/runc does not support pod restore"]),
        RuleCase(label: "old CRIU and weak runtime do not matter without --pod",
                 archive: F.archive(podID: nil, shared: []), pod: nil,
                 host: F.host(criu: nil, runtimeOK: false), options: F.options(pod: nil)),
        // 5: the pod and its infra
        RuleCase(label: "pod lookup failed", pod: nil, options: F.options(lookupFailed: true),
                 codes: [Code.podNotFound], words: ["pod \"web\" cannot be retrieved"]),
        RuleCase(label: "--pod without pod facts", pod: nil, codes: [Code.podNotFound], words: ["\"web\""]),
        RuleCase(label: "infra stopped", pod: F.pod(running: false), codes: [Code.infraNotRunning],
                 words: ["pod web infra process is not running"]),
        RuleCase(label: "infra pid unknown", pod: F.pod(infraPID: nil), codes: [Code.infraNotRunning],
                 words: ["pod web infra process is not running"]),
    ] + namespaceCases + pidCases + nameCases

    /// 6 and 7: each shared kind must be shared by the pod; private ones stay private.
    static let namespaceCases: [RuleCase] = [
        ("ipc", "IPC"), ("net", "network"), ("pid", "PID"), ("uts", "UTS"), ("cgroup", "cgroup"),
    ].flatMap { kind, display in
        let all: Set<String> = ["ipc", "net", "pid", "uts", "cgroup"]
        return [
            RuleCase(label: "checkpoint shares \(kind), pod does not",
                     archive: F.archive(shared: [kind], own: all.subtracting([kind])),
                     pod: F.pod(shares: all.subtracting([kind, "pid"])),
                     codes: [Code.namespaceNotShared], words: ["pod web does not share the \(display) namespace"]),
            RuleCase(label: "checkpoint has \(kind) private, pod does not share it",
                     archive: F.archive(shared: [], own: [kind]), pod: F.pod(shares: [])),
        ]
    } + [
        RuleCase(label: "every kind but cgroup shared on both sides",
                 archive: F.archive(shared: ["ipc", "net", "pid", "uts"], own: ["cgroup"]),
                 pod: F.pod(shares: ["ipc", "net", "pid", "uts", "cgroup"])),
        RuleCase(label: "shared cgroup namespace", archive: F.archive(shared: ["cgroup"], own: []),
                 pod: F.pod(shares: ["cgroup"]), codes: [Code.cgroupNamespaceJoinUnsupported],
                 words: ["runc cannot join a cgroup namespace", "NEWCGROUP"]),
        RuleCase(label: "private PID into a PID-sharing pod", pod: F.pod(shares: ["ipc", "net", "uts", "pid"]),
                 codes: [Code.privatePIDInSharedPod], words: ["private PID namespace", "--allow-private-pid"]),
        RuleCase(label: "private PID into a PID-sharing pod, allowed",
                 pod: F.pod(shares: ["ipc", "net", "uts", "pid"]), options: F.options(allowPrivatePID: true)),
        RuleCase(label: "private IPC, net, UTS and cgroup into a pod sharing them",
                 archive: F.archive(shared: [], own: ["ipc", "net", "uts", "cgroup"]),
                 pod: F.pod(shares: ["ipc", "net", "uts", "cgroup"])),
    ]

    /// 8: checkpoint PIDs must be free in a shared PID namespace.
    static let pidCases: [RuleCase] = [
        RuleCase(label: "checkpoint PIDs taken", archive: F.archive(shared: ["pid"], own: [], pids: [7, 2, 9]),
                 pod: F.pod(shares: ["pid"], pidsInUse: [1, 2, 7, 8]), codes: [Code.pidInUse, Code.pidInUse],
                 words: ["pid 2 of the checkpoint is already in use in pod web's PID namespace",
                         "pid 7 of the checkpoint is already in use in pod web's PID namespace"]),
        RuleCase(label: "checkpoint PIDs free", archive: F.archive(shared: ["pid"], own: [], pids: [2, 3]),
                 pod: F.pod(shares: ["pid"], pidsInUse: [1, 4])),
        RuleCase(label: "taken PIDs do not matter with an allowed private PID namespace",
                 archive: F.archive(pids: [1, 2]),
                 pod: F.pod(shares: ["ipc", "net", "uts", "pid"], pidsInUse: [1, 2]),
                 options: F.options(allowPrivatePID: true)),
    ]

    /// 9: names.
    static let nameCases: [RuleCase] = [
        RuleCase(label: "name in use", host: F.host(names: ["app"]), codes: [Code.nameInUse],
                 words: ["\"app\" is already in use", "--name"]),
        RuleCase(label: "name in use, renamed", host: F.host(names: ["app"]), options: F.options(name: "app2")),
        RuleCase(label: "new name in use", host: F.host(names: ["app2"]), options: F.options(name: "app2"),
                 codes: [Code.nameInUse], words: ["\"app2\" is already in use", "--name"]),
        RuleCase(label: "new name invalid", options: F.options(name: "-bad"), codes: [Code.invalidName],
                 words: ["invalid container name \"-bad\""]),
    ]

}

@Suite("RestorePlanner rules")
struct RestoreRuleTests {
    private typealias F = RestoreFixture
    private typealias Code = RestoreProblem.Code

    @Test(arguments: RestoreRuleTable.all)
    func rule(_ row: RestoreRuleCase) throws {
        let result = row.plan()
        guard !row.codes.isEmpty else {
            #expect(result.problems == nil, "unexpected problems: \(result.problems?.description ?? "")")
            return
        }
        let problems = try #require(result.problems)
        #expect(problems.codes == row.codes)
        let messages = problems.problems.map(\.message).joined(separator: "\n")
        for word in row.words {
            #expect(messages.contains(word), "\(word) not in \(messages)")
        }
    }

    @Test func lowCRIUAndMissingIPCShareAndPIDCollisionAreReportedTogether() throws {
        let problems = try #require(RestorePlanner.plan(
            archive: F.archive(shared: ["ipc", "pid"], own: [], pids: [2, 3]),
            pod: F.pod(shares: ["pid"], pidsInUse: [1, 3]),
            host: F.host(criu: 31500), options: F.options()).problems)
        try #require(problems.codes == [Code.criuTooOld, Code.namespaceNotShared, Code.pidInUse])
        #expect(problems.problems[1] == .namespaceNotShared(pod: "web", namespace: "ipc"))
        #expect(problems.problems[2] == .pidInUse(pid: 3, pod: "web"))
        #expect(problems.description.hasPrefix("3 problems: (1) restoring containers into pods"))
    }

    @Test func everyUnrelatedProblemIsReported() throws {
        let problems = try #require(RestorePlanner.plan(
            archive: F.archive(dependencies: ["db"]), pod: nil,
            host: F.host(criu: nil, runtimeOK: false, names: ["app"]),
            options: F.options(lookupFailed: true)).problems)
        #expect(problems.codes == [
            Code.hasDependencies, Code.criuTooOld, Code.runtimeLacksPodRestore, Code.podNotFound, Code.nameInUse,
        ])
    }

    @Test func aNonPodCheckpointIntoAPodGetsNoNamespaceNoise() throws {
        let problems = try #require(RestorePlanner.plan(
            archive: F.archive(podID: nil, shared: [], own: ["pid"]),
            pod: F.pod(shares: ["pid"]), host: F.host(), options: F.options()).problems)
        #expect(problems.codes == [Code.notAPodContainer])
        #expect(problems.description == "cannot restore non pod container into pod")
    }

    @Test func codesAreStableAndDistinct() {
        let all: [RestoreProblem] = [
            .podRequired(checkpointPodID: "p"), .notAPodContainer(podReference: "x"),
            .hasDependencies(container: "c", dependencies: ["d"]), .criuTooOld(found: nil, required: 1),
            .runtimeLacksPodRestore(runtimePath: "r"), .podNotFound(reference: "x"), .infraNotRunning(pod: "p"),
            .namespaceNotShared(pod: "p", namespace: "net"), .privatePIDInSharedPod(pod: "p"),
            .cgroupNamespaceJoinUnsupported(pod: "p"), .pidInUse(pid: 1, pod: "p"),
            .nameInUse(name: "n", renamed: false), .invalidName(name: "n", reason: "r"),
        ]
        #expect(Set(all.map(\.code)).count == all.count)
        #expect(RestoreProblem.cgroupNamespaceJoinUnsupported(pod: "p").code == "cgroupns-join-unsupported")
        #expect(RestoreProblem.infraNotRunning(pod: "p").code == "infra-not-running")
        #expect(RestoreProblem.nameInUse(name: "n", renamed: true).code == "name-in-use")
        #expect(all.allSatisfy { !$0.message.contains("\n") && $0.description == $0.message })
    }
}
