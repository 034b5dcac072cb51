import Testing
@testable import CrpodCore

@Suite("RestorePlanner plan contents")
struct RestorePlanContentTests {
    private typealias F = RestoreFixture

    private func plan(
        archive: ArchivePlanFacts = F.archive(), pod: PodPlanFacts? = F.pod(),
        host: HostPlanFacts = F.host(), options: RestorePlanOptions = F.options()
    ) throws -> RestorePlan {
        let result = RestorePlanner.plan(archive: archive, pod: pod, host: host, options: options)
        return try #require(result.plan, "refused: \(result.problems?.description ?? "")")
    }

    @Test func joinsTheInfraNamespacesAndKeepsTheRestPrivate() throws {
        let plan = try plan(
            archive: F.archive(shared: ["ipc", "net", "uts", "pid"], own: ["mnt", "cgroup", "user"]),
            pod: F.pod(shares: ["ipc", "net", "uts", "pid"], pidsInUse: [1, 5]))
        #expect(plan.joinNamespaces == [
            "ipc": "/proc/4242/ns/ipc", "network": "/proc/4242/ns/net",
            "uts": "/proc/4242/ns/uts", "pid": "/proc/4242/ns/pid",
        ])
        #expect(plan.privateNamespaces == ["cgroup", "mount", "user"])
        #expect(plan.podID == F.newPodID && plan.podName == "web")
        #expect(plan.cgroupsPath == "/crpod/pod-web/" + F.containerID)
    }

    @Test func ociSpellingsInTheFactsAreAccepted() throws {
        let plan = try plan(archive: F.archive(shared: ["ipc", "network"], own: ["mount", "pid"]),
                            pod: F.pod(shares: ["ipc", "network"]))
        #expect(plan.joinNamespaces == ["ipc": "/proc/4242/ns/ipc", "network": "/proc/4242/ns/net"])
        #expect(plan.privateNamespaces == ["pid", "mount"])
    }

    @Test func privateKindsStayPrivateInASharingPodWithANote() throws {
        let plan = try plan(archive: F.archive(shared: ["net"], own: ["ipc", "uts", "cgroup", "pid"]),
                            pod: F.pod(shares: ["ipc", "net", "uts", "cgroup"]))
        #expect(plan.joinNamespaces == ["network": "/proc/4242/ns/net"])
        #expect(plan.privateNamespaces == ["ipc", "pid", "uts", "cgroup"])
        for display in ["IPC", "UTS", "cgroup"] {
            #expect(plan.notes.contains { $0.contains("private \(display) namespace; it stays private") })
        }
        #expect(!plan.dropIPCObjectImages)
        #expect(plan.keepTargetHostname == nil)
    }

    @Test func allowedPrivatePIDGetsItsOwnNamespace() throws {
        let plan = try plan(pod: F.pod(shares: ["ipc", "net", "uts", "pid"]),
                            options: F.options(allowPrivatePID: true))
        #expect(plan.joinNamespaces["pid"] == nil)
        #expect(plan.privateNamespaces.contains("pid"))
        #expect(plan.notes.contains { $0.contains("--allow-private-pid") && $0.contains("PID namespace of its own") })
    }

    @Test func sharedIPCDropsTheObjectImagesAndSharedUTSKeepsThePodHostname() throws {
        let plan = try plan()
        #expect(plan.dropIPCObjectImages)
        #expect(plan.notes.contains { $0.contains("ipcns-shm/msg/sem") })
        #expect(plan.keepTargetHostname == "web-host")
        #expect(plan.notes.contains { $0.contains("\"old-host\"") && $0.contains("\"web-host\"") })
    }

    @Test func unknownPodHostnameIsNoted() throws {
        let plan = try plan(pod: F.pod(hostname: nil))
        #expect(plan.keepTargetHostname == nil)
        #expect(plan.notes.contains { $0.contains("hostname is unknown") })
    }

    @Test func annotationsPointAtTheNewPod() throws {
        let plan = try plan()
        #expect(plan.annotations == [
            "io.kubernetes.cri-o.SandboxID": F.newPodID, "io.crpod.pod.name": "web",
            "io.crpod.container.name": "app", "org.example.keep": "yes",
        ])
    }

    @Test func createCommandFollowsTheNewPod() throws {
        let command = ["crpod", "run", "--pod", "old", "--pod=\(F.oldPodID)", "--name", "app",
                       "--label", F.oldPodID, "busybox"]
        let plan = try plan(archive: F.archive(createCommand: command))
        #expect(plan.createCommand == ["crpod", "run", "--pod", F.newPodID, "--pod=\(F.newPodID)",
                                       "--name", "app", "--label", F.newPodID, "busybox"])
    }

    @Test func renameUsesTheNewNameAndID() throws {
        let command = ["crpod", "run", "--pod", F.oldPodID, "--name", "app", "--name=app", "busybox"]
        let plan = try plan(archive: F.archive(createCommand: command), options: F.options(name: "app2"))
        #expect(plan.containerName == "app2")
        #expect(plan.containerID == F.newID)
        #expect(plan.cgroupsPath == "/crpod/pod-web/" + F.newID)
        #expect(plan.annotations["io.crpod.container.name"] == "app2")
        #expect(plan.createCommand == ["crpod", "run", "--pod", F.newPodID, "--name", "app2", "--name=app2", "busybox"])
        #expect(plan.notes.contains { $0.contains("restored as app2 with the new ID \(F.newID)") })
    }

    @Test func withoutRenameTheArchiveIdentityIsKept() throws {
        let plan = try plan()
        #expect(plan.containerName == "app")
        #expect(plan.containerID == F.containerID)
        #expect(plan.createCommand.contains("app"))
    }

    @Test func selinuxOnPassesTheInfraLabels() throws {
        let plan = try plan(host: F.host(selinux: true))
        #expect(plan.lsmProfile == "selinux:" + F.processLabel)
        #expect(plan.lsmMountContext == F.mountLabel)
        #expect(!plan.notes.contains(RestorePlanContents.selinuxDisabledNote))
    }

    @Test func selinuxOnWithAnUnlabelledPodPassesNothingAndSaysSo() throws {
        let plan = try plan(pod: F.pod(labels: false), host: F.host(selinux: true))
        #expect(plan.lsmProfile == nil && plan.lsmMountContext == nil)
        #expect(plan.notes.contains { $0.contains("no SELinux label") })
        #expect(plan.notes.contains { $0.contains("no SELinux mount label") })
    }

    @Test func selinuxOffPassesNoLabels() throws {
        let plan = try plan(host: F.host(selinux: false))
        #expect(plan.lsmProfile == nil && plan.lsmMountContext == nil)
        #expect(plan.notes.contains("SELinux is disabled: no labels are passed to the runtime"))
    }

    @Test func nonPodRestore() throws {
        let archive = F.archive(podID: nil, shared: [], own: ["ipc", "net", "pid", "uts", "cgroup", "mnt"],
                                createCommand: ["crpod", "run", "--name", "app", "busybox"])
        let plan = try plan(archive: archive, pod: nil, host: F.host(selinux: true), options: F.options(pod: nil))
        #expect(plan.podID == nil && plan.podName == nil)
        #expect(plan.joinNamespaces.isEmpty)
        #expect(plan.privateNamespaces == ["ipc", "network", "pid", "uts", "cgroup", "mount"])
        #expect(plan.cgroupsPath == "/crpod/" + F.containerID)
        #expect(plan.annotations == ["io.crpod.container.name": "app", "org.example.keep": "yes"])
        #expect(plan.createCommand == archive.createCommand)
        #expect(plan.lsmProfile == nil && plan.lsmMountContext == nil)
        #expect(!plan.dropIPCObjectImages && plan.keepTargetHostname == nil)
    }

    @Test func nonPodRestoreNeverFallsBackToAHostNamespace() throws {
        let archive = F.archive(podID: nil, shared: ["net"], own: ["pid"])
        let plan = try plan(archive: archive, pod: nil, options: F.options(pod: nil))
        #expect(plan.privateNamespaces == ["network", "pid"])
        #expect(plan.notes.contains { $0.contains("joined a network namespace by path") })
    }

    @Test func podFactsWithoutPodOptionAreIgnored() throws {
        let plan = try plan(archive: F.archive(podID: nil, shared: []), pod: F.pod(), options: F.options(pod: nil))
        #expect(plan.podID == nil)
        #expect(plan.joinNamespaces.isEmpty)
        #expect(plan.cgroupsPath == "/crpod/" + F.containerID)
    }

    @Test(arguments: [("/crpod", "/crpod/x"), ("/crpod/", "/crpod/x"), ("/", "/x"), ("", "/x")])
    func cgroupsPathJoinsWithOneSlash(_ parent: String, _ expected: String) {
        #expect(RestorePlanContents.cgroupsPath(parent: parent, id: "x") == expected)
    }

    @Test func samePlanForSameFacts() throws {
        #expect(try plan() == plan())
    }
}
