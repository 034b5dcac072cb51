import CrpodCore
import CrpodLinux
import Foundation
import Testing

@testable import CrpodDrivers

/// The native dump's decision (`NativeDumpPlan.make`), from literal facts: what runc would ask
/// CRIU for, plus the freeze and network-lock choices of issue 12.
@Suite struct NativeDumpPlanTests {
    /// A pod member as crpod's SpecBuilder writes it (private cgroup ns, joined ipc/net/pid/uts),
    /// plus a bind mount and a device.
    static func podMemberSpec(cgroupNamespace: Bool = true, extraMounts: [JSONValue] = []) throws -> OCISpec {
        var namespaces: [JSONValue] = [["type": "mount"]]
        if cgroupNamespace { namespaces.append(["type": "cgroup"]) }
        namespaces += [["type": "ipc", "path": "/proc/9/ns/ipc"], ["type": "network", "path": "/proc/9/ns/net"],
                       ["type": "pid", "path": "/proc/9/ns/pid"], ["type": "uts", "path": "/proc/9/ns/uts"]]
        let mounts: [JSONValue] = [
            ["destination": "/proc", "type": "proc", "source": "proc"],
            ["destination": "/dev", "type": "tmpfs", "source": "tmpfs"],
            ["destination": "/etc//hosts", "type": "none", "source": "/x/hosts", "options": ["rbind", "ro"]],
            ["destination": "/data", "type": "bind", "source": "/x/data"],
            ["destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]],
        ] + extraMounts
        return try OCISpec(json: [
            "root": ["path": "rootfs"],
            "mounts": .array(mounts),
            "linux": [
                "namespaces": .array(namespaces),
                "cgroupsPath": "/pod/c",
                "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/sys/firmware"],
                "devices": [["path": "/dev/fuse", "type": "c"], ["path": "/dev/null", "type": "c"]],
            ],
        ])
    }

    static func facts(_ spec: OCISpec) -> NativeDumpFacts {
        var facts = NativeDumpFacts(initPid: 42, spec: spec, root: "/b/rootfs")
        facts.joinedNamespaceInodes = [.net: 4026532176, .pid: 4026532241]
        facts.maskedFiles = ["/proc/keys", "/proc/timer_list"]
        facts.cgroupProcesses = [42: 7, 43: 42, 44: 43]
        facts.configFile = "/b/criu.conf"
        facts.stdioTargets = ["/dev/null", "pipe:[4456295]", "pipe:[4456295]"]
        return facts
    }

    static let options: CheckpointOptions = {
        var options = CheckpointOptions(imagePath: "/c/checkpoint", workPath: "/c/work", leaveRunning: true, fileLocks: true)
        options.manageCgroupsMode = "soft"
        return options
    }()

    @Test func aPodMemberDumpIsWhatRuncWouldAskPlusSeizeAndNoNetworkLock() throws {
        let plan = NativeDumpPlan.make(Self.facts(try Self.podMemberSpec()), Self.options)
        let criu = CRIUDriver(criuPath: "/criu")
        #expect(plan.criu.freezeCgroup == nil, "ptrace seize, never the 100 ms-polled cgroup freezer")
        #expect(NativeDumpPlan.strayTasks(Self.facts(try Self.podMemberSpec())) == [])
        #expect(plan.descriptors == ["/dev/null", "pipe:[4456295]", "pipe:[4456295]"])
        #expect(criu.dumpArguments(plan.criu) == [
            "dump", "-t", "42", "-D", "/c/checkpoint", "-W", "/c/work", "-o", "dump.log", "-v4",
            "--config", "/b/criu.conf", "--root", "/b/rootfs", "--leave-running", "--file-locks", "--manage-cgroups=soft",
            "--network-lock", "skip",
            "--external", "net[4026532176]:extRootNetNS", "--external", "pid[4026532241]:extRootPidNS",
            "--external", "mnt[/etc/hosts]:/etc/hosts", "--external", "mnt[/data]:/data",
            "--external", "mnt[/proc/keys]:/dev/null",
            "--external", "mnt[/dev/random]:/dev/random", "--external", "mnt[/dev/full]:/dev/full",
            "--external", "mnt[/dev/tty]:/dev/tty", "--external", "mnt[/dev/zero]:/dev/zero",
            "--external", "mnt[/dev/urandom]:/dev/urandom", "--external", "mnt[/dev/fuse]:/dev/fuse",
            "--external", "mnt[/dev/null]:/dev/null",
        ])
        #expect(plan.criu.logPath == "/c/work/dump.log", "the log and CRIU's stats-dump land in the work dir")
    }

    @Test func aCgroupFrozenByThePodCheckpointIsHandedToCRIU() throws {
        var options = Self.options
        options.frozenCgroup = "/sys/fs/cgroup/unified/pod/member"
        let plan = NativeDumpPlan.make(Self.facts(try Self.podMemberSpec()), options)
        #expect(plan.criu.freezeCgroup == "/sys/fs/cgroup/unified/pod/member")
        #expect(CRIUDriver(criuPath: "/criu").dumpArguments(plan.criu).contains("--freeze-cgroup"))
    }

    @Test func tcpEstablishedKeepsTheNetworkLock() throws {
        var options = Self.options
        options.tcpEstablished = true
        let plan = NativeDumpPlan.make(Self.facts(try Self.podMemberSpec()), options)
        #expect(plan.criu.networkLock == nil)
        #expect(plan.criu.tcpEstablished)
    }

    @Test func aPrivateNetworkNamespaceIsDumpedAndLocked() throws {
        var facts = Self.facts(try Self.podMemberSpec())
        facts.joinedNamespaceInodes = [.pid: 4026532241]
        let plan = NativeDumpPlan.make(facts, Self.options)
        #expect(plan.criu.networkLock == nil)
        #expect(plan.criu.externalNamespaces == [.pid(inode: 4026532241)])
    }

    @Test func withoutACgroupNamespaceTheV1ControllerBindsAreExternal() throws {
        var facts = Self.facts(try Self.podMemberSpec(cgroupNamespace: false))
        facts.containerMounts = try MountTable.parse("""
            tmpfs /sys/fs/cgroup tmpfs rw,mode=755 0 0
            cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0
            cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0
            cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0
            cgroup /elsewhere/memory cgroup rw,memory 0 0
            """)
        let keys = NativeDumpPlan.make(facts, Self.options).criu.externalMounts.map(\.path)
        #expect(Array(keys.prefix(4)) == ["/etc/hosts", "/data", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/systemd"])
        var withNamespace = facts
        withNamespace.spec = try Self.podMemberSpec(cgroupNamespace: true)
        #expect(!NativeDumpPlan.make(withNamespace, Self.options).criu.externalMounts.contains { $0.path.hasPrefix("/sys/fs/cgroup") },
                "with a cgroup namespace the cgroup mounts are real mounts, dumped as such")
    }

    @Test func aTaskOutsideTheInitsTreeIsAStray() throws {
        var facts = Self.facts(try Self.podMemberSpec())
        facts.cgroupProcesses[50] = 9  // reparented to the pod's init
        #expect(NativeDumpPlan.strayTasks(facts) == [50])
        #expect(NativeDumpPlan.make(facts, Self.options).criu.freezeCgroup == nil)
    }

    @Test(arguments: [
        ([42: 1, 43: 42, 44: 43], [Int32]()),
        ([42: 1, 43: 42, 60: 1, 61: 60], [60, 61]),
        ([42: 1, 70: 71, 71: 70], [70, 71]),  // a cycle never hangs
        ([Int32: Int32](), [Int32]()),
    ] as [([Int32: Int32], [Int32])])
    func outsideTree(parents: [Int32: Int32], expected: [Int32]) {
        #expect(NativeDumpPlan.outsideTree(root: 42, parents: parents) == expected)
    }

    @Test(arguments: [("/etc//hosts", "/etc/hosts"), ("/a/./b/../c/", "/a/c"), ("/../x", "/x"), ("/", "/")])
    func cleanPath(path: String, expected: String) {
        #expect(NativeDumpPlan.cleanPath(path) == expected)
    }

    @Test func noConfigFileAndNoJoinedNamespacesGiveAPlainDump() throws {
        var facts = NativeDumpFacts(initPid: 5, spec: try OCISpec(json: ["root": ["path": "/r"]]), root: "/r")
        facts.stdioTargets = ["", "/dev/null", "/dev/null"]
        var options = CheckpointOptions(imagePath: "/i", workPath: "/w")
        options.manageCgroupsMode = nil
        let plan = NativeDumpPlan.make(facts, options)
        #expect(CRIUDriver(criuPath: "/criu").dumpArguments(plan.criu) == [
            "dump", "-t", "5", "-D", "/i", "-W", "/w", "-o", "dump.log", "-v4", "--root", "/r",
            "--external", "mnt[/dev/null]:/dev/null", "--external", "mnt[/dev/random]:/dev/random",
            "--external", "mnt[/dev/full]:/dev/full", "--external", "mnt[/dev/tty]:/dev/tty",
            "--external", "mnt[/dev/zero]:/dev/zero", "--external", "mnt[/dev/urandom]:/dev/urandom",
        ])
        #expect(plan.descriptors == ["", "/dev/null", "/dev/null"])
    }
}
