import Foundation
import Testing
import CrpodCore
import CrpodLinux
@testable import CrpodEngine

/// L0: the container spec request `run` derives from a container and its pod.
@Suite("Engine.specRequest")
struct SpecRequestTests {
    static let engine = Engine(settings: EngineSettings(
        root: "/nonexistent/lib", runRoot: "/nonexistent/run", runtimePath: nil, criuPath: nil, criuSource: nil,
        cgroupParent: "/crpod", helperDirectory: "/nonexistent/helpers"))

    @Test func podMemberJoinsTheInfraNamespaces() throws {
        let pod = podRecord(id: fakeID("abcd"), name: "web", shares: ["ipc", "net", "uts", "pid"],
                            infra: ProcessIdentity(pid: 4242, startTime: 99))
        let container = containerRecord(id: fakeID("c1"), name: "app", pod: pod)
        let request = Self.engine.specRequest(for: container, pod: pod)
        #expect(request.joinNamespaces == [
            "ipc": "/proc/4242/ns/ipc",
            "network": "/proc/4242/ns/net",
            "uts": "/proc/4242/ns/uts",
            "pid": "/proc/4242/ns/pid",
        ])
        #expect(request.privateNamespaces == ["cgroup"])
        #expect(request.hostname == nil, "the pod's UTS namespace carries the hostname")
        #expect(request.annotations["io.kubernetes.cri-o.SandboxID"] == pod.id)
        #expect(request.annotations["io.crpod.pod.name"] == "web")
        #expect(request.annotations["io.crpod.container.name"] == "app")
        #expect(request.cgroupsPath == pod.cgroupPath + "/" + container.id)
    }

    @Test func podDefaultSharesLeavePidAndCgroupPrivate() throws {
        let pod = podRecord(id: fakeID("abcd"), name: "web", shares: ShareList.podDefault)
        let request = Self.engine.specRequest(for: containerRecord(id: fakeID("c1"), name: "app", pod: pod), pod: pod)
        #expect(Set(request.joinNamespaces.keys) == ["ipc", "network", "uts"])
        #expect(request.privateNamespaces == ["pid", "cgroup"])
    }

    @Test func standaloneContainerHasItsOwnNamespaces() throws {
        let container = containerRecord(id: fakeID("c2"), name: "solo")
        let request = Self.engine.specRequest(for: container, pod: nil)
        #expect(request.joinNamespaces.isEmpty)
        #expect(request.privateNamespaces == ["ipc", "network", "pid", "uts", "cgroup"])
        #expect(request.hostname == "solo")
        #expect(request.annotations == ["io.crpod.container.name": "solo"])
        #expect(request.args == container.command)
        #expect(request.env == container.env)
        #expect(request.workdir == "/tmp")
        #expect(request.rootfsPath == container.overlay.target)
        #expect(request.cgroupsPath == container.cgroupPath)
    }

    @Test func rlimitsNeverExceedTheCurrentHardLimits() throws {
        let request = Self.engine.specRequest(for: containerRecord(id: fakeID("c3"), name: "x"), pod: nil)
        let resources: [String: Int32] = ["RLIMIT_NOFILE": Int32(RLIMIT_NOFILE.rawValue), "RLIMIT_NPROC": Int32(__RLIMIT_NPROC.rawValue)]
        #expect(Set(request.rlimits.map(\.type)) == Set(resources.keys))
        for limit in request.rlimits {
            var current = rlimit()
            #expect(getrlimit(__rlimit_resource_t(try #require(resources[limit.type])), &current) == 0)
            #expect(limit.hard == UInt64(current.rlim_max), "\(limit.type)")
            #expect(limit.soft <= limit.hard, "\(limit.type)")
        }
    }

    @Test func theRequestBuildsASpec() throws {
        let pod = podRecord(id: fakeID("abcd"), name: "web", shares: ["ipc", "net", "uts", "pid"])
        let request = Self.engine.specRequest(for: containerRecord(id: fakeID("c1"), name: "app", pod: pod), pod: pod)
        let namespaces = SpecBuilder.namespaces(for: request)
        let network = try #require(namespaces.first { $0.type == "network" })
        #expect(network.path == "/proc/4242/ns/net")
        #expect(namespaces.contains { $0.type == "cgroup" && $0.path == nil })
        _ = try SpecBuilder.build(request)
    }

    /// A member in the pod's IPC namespace binds the pod's /dev/shm (podman's rule); a member
    /// that does not join it (IPC not shared, no infra to join) keeps a private one even when
    /// the record has a shm directory, and a record without one gives a private one too.
    @Test(arguments: [
        (["ipc", "net", "uts"], true, "/run/crpod/pods/p/shm-fs/shm", "/run/crpod/pods/p/shm-fs/shm"),
        (["ipc", "net", "uts"], true, nil, nil),
        (["net", "uts"], true, "/run/crpod/pods/p/shm-fs/shm", nil),
        (["ipc", "net", "uts"], false, "/run/crpod/pods/p/shm-fs/shm", nil),
    ] as [([String], Bool, String?, String?)])
    func devShmSourceFollowsTheJoinedIPCNamespace(shares: [String], hasInfra: Bool, shm: String?, expected: String?) throws {
        var pod = podRecord(id: fakeID("abcd"), name: "web", shares: shares,
                            infra: hasInfra ? ProcessIdentity(pid: 4242, startTime: 99) : nil)
        pod.shmDirectory = shm
        let request = Self.engine.specRequest(for: containerRecord(id: fakeID("c1"), name: "app", pod: pod), pod: pod)
        #expect(request.devShmSource == expected)
        #expect((request.joinNamespaces["ipc"] != nil) == (shares.contains("ipc") && hasInfra))
        #expect(Self.engine.specRequest(for: containerRecord(id: fakeID("c2"), name: "solo"), pod: nil).devShmSource == nil)
    }
}
