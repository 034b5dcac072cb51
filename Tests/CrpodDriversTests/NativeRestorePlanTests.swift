import CrpodCore
import Foundation
import Testing

@testable import CrpodDrivers

/// `NativeRestorePlanner`: config.json + image facts + cgroup layout → CRIU's restore options,
/// without root.
@Suite struct NativeRestorePlanTests {
    static let infra = "/proc/4242/ns/"

    /// A pod member's config.json as crpod writes it, with bind mounts for /etc/hosts and a
    /// data directory that has a mount point nested beneath it.
    static func spec(namespaces: [OCINamespace]? = nil, root: String = "/c/rootfs", cgroup: String = "/crpod/pb/c1") throws -> OCISpec {
        let joined = namespaces ?? [
            OCINamespace(type: "mount"), OCINamespace(type: "cgroup"),
            OCINamespace(type: "ipc", path: infra + "ipc"), OCINamespace(type: "network", path: infra + "net"),
            OCINamespace(type: "uts", path: infra + "uts"), OCINamespace(type: "pid", path: infra + "pid"),
        ]
        let text = """
        {"root": {"path": "\(root)"},
         "mounts": [
           {"destination": "/proc", "type": "proc", "source": "proc"},
           {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
           {"destination": "/dev/shm", "type": "tmpfs", "source": "shm"},
           {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"},
           {"destination": "/etc/hosts", "type": "bind", "source": "/c/hosts", "options": ["rbind", "ro"]},
           {"destination": "/data/", "type": "none", "source": "/srv/data", "options": ["bind"]},
           {"destination": "/data/cache", "type": "tmpfs", "source": "tmpfs"}],
         "linux": {"cgroupsPath": "\(cgroup)", "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
                   "namespaces": \(String(decoding: try JSONEncoder().encode(joined), as: UTF8.self))}}
        """
        return try OCISpec(data: Data(text.utf8), context: "config.json")
    }

    static func options(manageCgroupsMode: String? = nil) -> RestoreOptions {
        var options = RestoreOptions(imagePath: "/c/images", workPath: "/c/work", bundle: "/c/bundle", pidFile: "/c/bundle/pid")
        options.manageCgroupsMode = manageCgroupsMode
        options.tcpEstablished = true
        options.timeLimit = .seconds(30)
        return options
    }

    static let runcImages = NativeRestoreImageFacts(
        descriptors: ["/dev/null", "pipe:[1234]", "pipe:[1234]"],
        externalMountKeys: ["/dev/null", "/dev/null", "/etc/hosts", "/data"])
    static let hybrid: [NativeCgroupHierarchy] = [
        .v1(mountPoint: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"]),
        .v1(mountPoint: "/sys/fs/cgroup/systemd", controllers: ["name=systemd"]), .unified(mountPoint: "/sys/fs/cgroup/unified"),
    ]

    func plan(_ spec: OCISpec, images: NativeRestoreImageFacts = runcImages, hierarchies: [NativeCgroupHierarchy] = hybrid,
              options: RestoreOptions = options()) throws -> NativeRestorePlan {
        try NativeRestorePlanner.plan(id: "c1", spec: spec, bundle: "/c/bundle", options: options, images: images, hierarchies: hierarchies)
    }

    @Test func aPodMemberInheritsNetAndPidJoinsIpcAndUtsAndReattachesItsStdioPipes() throws {
        let plan = try plan(Self.spec())
        #expect(plan.criu.inheritedFiles == [
            CRIUInheritedFile(fd: 3, key: "extRootNetNS", source: Self.infra + "net"),
            CRIUInheritedFile(fd: 4, key: "extRootPidNS", source: Self.infra + "pid"),
            CRIUInheritedFile(fd: 1, key: "pipe:[1234]", source: nil),
            CRIUInheritedFile(fd: 2, key: "pipe:[1234]", source: nil),
        ])
        #expect(plan.criu.joinedNamespaces == [CRIUJoinedNamespace(kind: "ipc", path: Self.infra + "ipc"),
                                               CRIUJoinedNamespace(kind: "uts", path: Self.infra + "uts")])
        #expect(plan.root == "/c/rootfs" && plan.criu.root == "/c/rootfs" && plan.cgroupPath == "/crpod/pb/c1")
    }

    @Test func everyExternalMountKeyMapsToItsBindSourceOrDevNullOnce() throws {
        let plan = try plan(Self.spec())
        #expect(plan.criu.externalMounts == [
            CRIUExternalMount(key: "/data", path: "/srv/data"),
            CRIUExternalMount(key: "/dev/null", path: "/dev/null"),
            CRIUExternalMount(key: "/etc/hosts", path: "/c/hosts"),
        ])
    }

    @Test func aDeviceNodeKeyIsBoundFromTheSamePath() throws {
        let images = NativeRestoreImageFacts(descriptors: [], externalMountKeys: ["/dev/fuse"])
        #expect(try plan(Self.spec(), images: images).criu.externalMounts == [CRIUExternalMount(key: "/dev/fuse", path: "/dev/fuse")])
    }

    /// runc's v1 cgroup binds (a container without a cgroup namespace, podman's default).
    @Test func aV1CgroupBindKeyIsTheContainersCgroupInThatHierarchy() throws {
        let images = NativeRestoreImageFacts(descriptors: [], externalMountKeys: ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/systemd"])
        #expect(try plan(Self.spec(), images: images).criu.externalMounts == [
            CRIUExternalMount(key: "/sys/fs/cgroup/cpu,cpuacct", path: "/sys/fs/cgroup/cpu,cpuacct/crpod/pb/c1"),
            CRIUExternalMount(key: "/sys/fs/cgroup/systemd", path: "/sys/fs/cgroup/systemd/crpod/pb/c1"),
        ])
    }

    @Test func anUnsatisfiableKeyIsRefusedByName() throws {
        let images = NativeRestoreImageFacts(descriptors: [], externalMountKeys: ["/etc/hosts", "/var/lib/secret", "shm"])
        #expect {
            try plan(Self.spec(), images: images)
        } throws: { error in
            "\(error)".contains("\"/var/lib/secret\", \"shm\"") && "\(error)".contains("cannot handle container c1")
        }
    }

    @Test func cgroupRootsNameEveryV1ControllerAndTheUnifiedHierarchy() throws {
        let plan = try plan(Self.spec())
        #expect(plan.criu.cgroupRoots.map(\.argument) == ["cpu:/crpod/pb/c1", "cpuacct:/crpod/pb/c1", "name=systemd:/crpod/pb/c1", ":/crpod/pb/c1"])
        #expect(plan.criu.manageCgroups == .soft)
        let v2 = try self.plan(Self.spec(), hierarchies: [.unified(mountPoint: "/sys/fs/cgroup")], options: Self.options(manageCgroupsMode: "full"))
        #expect(v2.criu.cgroupRoots.map(\.argument) == [":/crpod/pb/c1"] && v2.criu.manageCgroups == .full)
    }

    @Test func theArgumentsAreDetachedEvasiveNotSiblingWithTheLogAndPidfileInTheWorkDirectory() throws {
        let plan = try plan(Self.spec())
        let arguments = CRIUDriver(criuPath: "/criu").restoreArguments(plan.criu)
        #expect(arguments.starts(with: ["restore", "-D", "/c/images", "-W", "/c/work", "-o", "restore.log", "-v4",
                                        "--restore-detached", "--pidfile", "/c/work/restore.pid"]))
        #expect(arguments.contains("--evasive-devices") && arguments.contains("--tcp-established") && !arguments.contains("--restore-sibling"))
        #expect(plan.criu.logPath == "/c/work/restore.log" && plan.criu.timeLimit == .seconds(30))
    }

    @Test func sysvSegmentsToAttachLeaveTheTasksStopped() throws {
        #expect(try !plan(Self.spec()).criu.leaveStopped)
        var options = Self.options()
        let attachment = CRIUSysVAttachment(pid: 1, shmid: 3, start: 0x7f00_0000_0000, end: 0x7f00_0000_1000, prot: 1)
        options.sysvReattach = SysVReattach(helper: "/bin/crpod-shmattach", attachments: [attachment])
        let plan = try self.plan(Self.spec(), options: options)
        #expect(plan.criu.leaveStopped && CRIUDriver(criuPath: "/criu").restoreArguments(plan.criu).contains("--leave-stopped"))
        #expect(SysVReattach.arguments(hostPID: 4711, [attachment, CRIUSysVAttachment(pid: 1, shmid: 0, start: 0x1000, end: 0x2000, prot: 3)])
                == ["4711", "3", "0x7f0000000000", "4096", "0", "0x1000", "0"])
    }

    @Test func mountPointsSkipCgroupAndWhatLiesOnATmpfs() throws {
        let plan = try plan(Self.spec())
        #expect(plan.mountPoints == [
            NativeMountPoint(destination: "/proc"), NativeMountPoint(destination: "/dev"),
            NativeMountPoint(destination: "/etc/hosts", bindSource: "/c/hosts"),
            NativeMountPoint(destination: "/data", bindSource: "/srv/data"), NativeMountPoint(destination: "/data/cache"),
        ])
    }

    @Test(arguments: [("cgroup", "cgroup namespace"), ("mount", "mount namespace")])
    func joiningACgroupOrMountNamespaceIsRefused(type: String, phrase: String) throws {
        let spec = try Self.spec(namespaces: [OCINamespace(type: type, path: Self.infra + type)])
        #expect { try plan(spec) } throws: { "\($0)".contains(phrase) }
    }

    @Test func aRelativeRootIsInTheBundleAndARelativeCgroupIsRefused() throws {
        #expect(try plan(Self.spec(root: "rootfs")).root == "/c/bundle/rootfs")
        #expect { try plan(Self.spec(cgroup: "crpod/c1")) } throws: { "\($0)".contains("cgroupsPath") }
    }

    @Test func onlyNumberedMountImagesCount() {
        #expect(NativeRestoreImageFacts.isMountImage("mountpoints-13.img"))
        #expect(!NativeRestoreImageFacts.isMountImage("mountpoints-.img") && !NativeRestoreImageFacts.isMountImage("mountpoints-1x.img"))
        var legacy = CRIUMountEntry()
        legacy.extMount = true
        legacy.root = "/etc/hosts"
        var keyed = CRIUMountEntry()
        keyed.extKey = "/dev/null"
        #expect(NativeRestoreImageFacts.externalKeys(of: [legacy, keyed, CRIUMountEntry()]) == ["/etc/hosts", "/dev/null"])
    }
}

/// `NativeCgroupLimits`: linux.resources → cgroup file writes, as runc's managers set them.
@Suite struct NativeCgroupLimitsTests {
    static let resources: JSONValue = [
        "devices": [["allow": false, "access": "rwm"]], "pids": ["limit": 2048],
        "memory": ["limit": 268_435_456, "swap": 536_870_912, "reservation": 134_217_728],
        "cpu": ["shares": 1024, "quota": 50000, "period": 100_000, "cpus": "0-1"], "blockIO": [:],
    ]

    @Test func v1WritesEachControllersOwnFiles() throws {
        let writes = try NativeCgroupLimits.writes(id: "c1", Self.resources, unified: false)
        #expect(writes.map { "\($0.controller ?? ""):\($0.file)=\($0.value)" } == [
            "memory:memory.limit_in_bytes=268435456", "memory:memory.soft_limit_in_bytes=134217728",
            "memory:memory.memsw.limit_in_bytes=536870912", "pids:pids.max=2048", "cpu:cpu.shares=1024",
            "cpu:cpu.cfs_period_us=100000", "cpu:cpu.cfs_quota_us=50000", "cpuset:cpuset.cpus=0-1",
        ])
    }

    @Test func v2ConvertsAsRunc() throws {
        let writes = try NativeCgroupLimits.writes(id: "c1", Self.resources, unified: true)
        #expect(writes.allSatisfy { $0.controller == nil })
        #expect(writes.map { "\($0.file)=\($0.value)" } == [
            "memory.max=268435456", "memory.low=134217728", "memory.swap.max=268435456", "pids.max=2048",
            "cpu.weight=39", "cpu.max=50000 100000", "cpuset.cpus=0-1",
        ])
        let unlimited = try NativeCgroupLimits.writes(id: "c1", ["pids": ["limit": -1], "memory": ["swap": -1]], unified: true)
        #expect(unlimited.map { "\($0.file)=\($0.value)" } == ["memory.swap.max=max", "pids.max=max"])
    }

    @Test func anUnhandledSectionIsRefusedByName() {
        #expect { try NativeCgroupLimits.writes(id: "c1", ["hugepageLimits": [["pageSize": "2MB", "limit": 1]]], unified: true) } throws: {
            "\($0)".contains("hugepageLimits") && "\($0)".contains("--engine runc")
        }
    }
}

