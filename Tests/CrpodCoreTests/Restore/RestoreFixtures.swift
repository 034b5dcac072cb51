import Testing
@testable import CrpodCore

/// Facts for planner tests: a container checkpointed in pod "old" (sharing ipc, net, uts
/// with a private pid and cgroup), restored into pod "web" (sharing ipc, net, uts).
enum RestoreFixture {
    static let oldPodID = String(repeating: "a", count: 64)
    static let newPodID = String(repeating: "b", count: 64)
    static let containerID = String(repeating: "c", count: 64)
    static let newID = String(repeating: "d", count: 64)
    static let infraPID: Int32 = 4242
    static let processLabel = "system_u:system_r:container_t:s0:c1,c2"
    static let mountLabel = "system_u:object_r:container_file_t:s0:c1,c2"

    static func archive(
        podID: String? = oldPodID,
        shared: Set<String> = ["ipc", "net", "uts"],
        own: Set<String> = ["mnt", "pid", "cgroup"],
        dependencies: [String] = [],
        createCommand: [String]? = nil,
        pids: [Int32] = [2, 3],
        hostname: String? = "old-host",
        ipcImages: Bool = true
    ) -> ArchivePlanFacts {
        ArchivePlanFacts(
            containerID: containerID, containerName: "app", podID: podID,
            sharedNamespaces: shared, privateNamespaces: own, dependencies: dependencies,
            createCommand: createCommand ?? ["crpod", "run", "--pod", oldPodID, "--name", "app", "busybox"],
            annotations: [
                "io.kubernetes.cri-o.SandboxID": oldPodID, "io.crpod.pod.name": "old",
                "io.crpod.container.name": "app", "org.example.keep": "yes",
            ],
            checkpointPIDs: pids, hostname: hostname, hasIPCObjectImages: ipcImages)
    }

    static func pod(
        shares: Set<String> = ["ipc", "net", "uts"],
        infraPID: Int32? = infraPID,
        running: Bool = true,
        pidsInUse: Set<Int32> = [1],
        hostname: String? = "web-host",
        labels: Bool = true
    ) -> PodPlanFacts {
        PodPlanFacts(
            id: newPodID, name: "web", shares: shares, infraPID: infraPID, infraRunning: running,
            cgroupPath: "/crpod/pod-web", processLabel: labels ? processLabel : nil,
            mountLabel: labels ? mountLabel : nil, hostname: hostname, pidsInUse: pidsInUse)
    }

    static func host(
        criu: Int? = 40101,
        runtimeOK: Bool = true,
        selinux: Bool = false,
        names: Set<String> = ["other"]
    ) -> HostPlanFacts {
        HostPlanFacts(
            criuVersion: criu, runtimePath: "/usr/sbin/runc", runtimeSupportsPodRestore: runtimeOK,
            selinuxEnabled: selinux, existingContainerNames: names, cgroupParent: "/crpod")
    }

    static func options(
        pod: String? = "web",
        name: String? = nil,
        allowPrivatePID: Bool = false,
        lookupFailed: Bool = false
    ) -> RestorePlanOptions {
        RestorePlanOptions(
            podReference: pod, newName: name, newID: newID,
            allowPrivatePIDInSharedPod: allowPrivatePID, podLookupFailed: lookupFailed)
    }
}

/// One row of the rule table: facts in, the problem codes (in order) and message words out.
/// No codes means the restore is accepted.
struct RestoreRuleCase: Sendable, CustomTestStringConvertible {
    var label: String
    var archive = RestoreFixture.archive()
    var pod: PodPlanFacts? = RestoreFixture.pod()
    var host = RestoreFixture.host()
    var options = RestoreFixture.options()
    var codes: [String] = []
    var words: [String] = []

    var testDescription: String { label }

    func plan() -> Result<RestorePlan, RestoreProblems> {
        RestorePlanner.plan(archive: archive, pod: pod, host: host, options: options)
    }
}

extension Result where Success == RestorePlan, Failure == RestoreProblems {
    var plan: RestorePlan? {
        if case let .success(plan) = self { return plan }
        return nil
    }

    var problems: RestoreProblems? {
        if case let .failure(problems) = self { return problems }
        return nil
    }
}
