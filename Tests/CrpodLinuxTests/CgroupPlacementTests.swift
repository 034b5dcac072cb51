import Foundation
import Testing
@testable import CrpodLinux

@Suite("restored-task placement against the layout")
struct CgroupPlacementTests {
    static let hybridLines = """
    9:name=systemd:/crpod/b/c2
    4:memory:/crpod/a/c1
    1:cpu,cpuacct:/crpod/b/c2
    0::/crpod/a/c1
    """

    static func layout(_ mounts: String) throws -> CgroupLayout {
        try CgroupLayout.detect(mounts: MountTable.parse(mounts))
    }

    @Test func aUnifiedLayoutChecksOnlyTheUnifiedLine() throws {
        let layout = try Self.layout("none /sys/fs/cgroup cgroup2 rw 0 0")
        let entries = try ProcCgroup.parse("4:memory:/process_api/x\n0::/crpod/b/c2\n")
        #expect(CgroupPlacement.misplacements(pid: 7, entries: entries, expected: "/crpod/b/c2", layout: layout) == [])
        let wrong = try ProcCgroup.parse("0::/crpod/a/c1\n")
        #expect(CgroupPlacement.misplacements(pid: 7, entries: wrong, expected: "/crpod/b/c2", layout: layout)
            == [CgroupMisplacement(pid: 7, hierarchy: "cgroup2", actual: "/crpod/a/c1", expected: "/crpod/b/c2")])
    }

    @Test func aHybridLayoutChecksEveryHierarchyAndMissingLines() throws {
        let layout = try Self.layout("""
        cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0
        cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0
        cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0
        cgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0
        cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0
        """)
        let found = CgroupPlacement.misplacements(pid: 1, entries: try ProcCgroup.parse(Self.hybridLines), expected: "/crpod/b/c2", layout: layout)
        #expect(found.map(\.hierarchy) == ["memory", "pids", "cgroup2"])
        #expect(found.first { $0.hierarchy == "pids" }?.actual == "(none)")
    }

    @Test func ancestorsRunFromTheTop() {
        #expect(CgroupSet.ancestors(of: "/a/b/c") == ["/a", "/a/b", "/a/b/c"])
        #expect(CgroupSet.ancestors(of: "/") == [])
    }
}

@Suite("cgroup removal and delegation on a temp tree")
struct CgroupLifecycleTests {
    @Test func removeTakesNestedCgroupsFirst() throws {
        try withTempTree { root in
            let tree = CgroupV2Manager(root: root)
            try tree.create("/pod/ctr/sub")
            try tree.create("/pod/infra")
            #expect(Set(tree.descendants(of: "/pod")) == ["/pod/ctr", "/pod/ctr/sub", "/pod/infra"])
            try tree.remove("/pod")
            #expect(!isDir(root + "/pod"))
        }
    }

    @Test func enableControllersWritesWhatTheParentDelegates() throws {
        try withTempTree { root in
            try put(root + "/pod/cgroup.controllers", "cpu memory pids\n")
            try put(root + "/pod/cgroup.subtree_control", "")
            #expect(try CgroupV2Manager(root: root).enableControllers(in: "/pod") == ["cpu", "memory", "pids"])
            #expect(contents(root + "/pod/cgroup.subtree_control") == "+cpu +memory +pids")
        }
    }

    @Test func nothingDelegatedMeansNothingWritten() throws {
        try withTempTree { root in
            try put(root + "/pod/cgroup.controllers", "\n")
            #expect(try CgroupV2Manager(root: root).enableControllers(in: "/pod") == [])
            #expect(contents(root + "/pod/cgroup.subtree_control") == nil)
        }
    }
}
