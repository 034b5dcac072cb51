import Foundation
import SystemPackage
import Testing
@testable import CrpodLinux

/// L1: cgroup trees on temp directories. A plain directory has none of the kernel's control
/// files, so each test creates the ones the code under test reads or writes.
@Suite("CgroupV2Manager on a temp tree")
struct CgroupV2ManagerTests {
    @Test func createNestedAndExists() throws {
        try withTempTree { root in
            let tree = CgroupV2Manager(root: root)
            #expect(!tree.exists("/crpod/pod-1/ctr"))
            try tree.create("/crpod/pod-1/ctr")
            #expect(isDir(root + "/crpod/pod-1/ctr"))
            #expect(tree.exists("/crpod/pod-1"))
            #expect(tree.exists("/"))
            try tree.create("/crpod/pod-1/ctr")  // again: no error
        }
    }

    @Test func moveWritesThePidIntoCgroupProcs() throws {
        try withTempTree { root in
            let tree = CgroupV2Manager(root: root)
            try tree.create("/pod")
            try put(root + "/pod/cgroup.procs", "")
            try tree.move(pid: 4242, to: "/pod")
            #expect(contents(root + "/pod/cgroup.procs") == "4242\n")
        }
    }

    @Test func moveNeverCreatesCgroupProcs() throws {
        try withTempTree { root in
            let tree = CgroupV2Manager(root: root)
            try tree.create("/pod")
            let error = try #require(throws: LinuxError.self) { try tree.move(pid: 1, to: "/pod") }
            #expect(error == .syscall(operation: "open", path: root + "/pod/cgroup.procs", errno: .noSuchFileOrDirectory))
            #expect(!FileManager.default.fileExists(atPath: root + "/pod/cgroup.procs"))
        }
    }

    @Test func processesReadsOnePidPerLine() throws {
        try withTempTree { root in
            try put(root + "/pod/cgroup.procs", "12\n345\n\n6789\n")
            #expect(try CgroupV2Manager(root: root).processes(in: "/pod") == [12, 345, 6789])
            try put(root + "/cgroup.procs", "")
            #expect(try CgroupV2Manager(root: root).processes(in: "/") == [])
        }
    }

    @Test func controllersReadsTheSpaceSeparatedList() throws {
        try withTempTree { root in
            try put(root + "/pod/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
            let controllers = try CgroupV2Manager(root: root).controllers(of: "/pod")
            #expect(controllers == ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"])
            try put(root + "/empty/cgroup.controllers", "\n")
            #expect(try CgroupV2Manager(root: root).controllers(of: "/empty") == [])
        }
    }

    @Test func killWritesOneIntoCgroupKill() throws {
        try withTempTree { root in
            try put(root + "/pod/cgroup.kill", "")
            // cgroup.procs names this very process: the fallback must not be taken.
            try put(root + "/pod/cgroup.procs", "\(getpid())\n")
            try CgroupV2Manager(root: root).kill("/pod")
            #expect(contents(root + "/pod/cgroup.kill") == "1")
        }
    }

    @Test func killWithoutCgroupKillSignalsEachProcess() throws {
        try withTempTree { root in
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/bin/sleep")
            child.arguments = ["60"]
            try child.run()
            defer { if child.isRunning { child.terminate() } }
            try put(root + "/pod/cgroup.procs", "\(child.processIdentifier)\n")
            try CgroupV2Manager(root: root).kill("/pod")
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal)
            #expect(child.terminationStatus == SIGKILL)
        }
    }

    @Test func removeDeletesAnEmptyCgroupAndToleratesAMissingOne() throws {
        try withTempTree { root in
            let tree = CgroupV2Manager(root: root)
            try tree.create("/crpod/pod")
            try tree.remove("/crpod/pod")
            #expect(!isDir(root + "/crpod/pod"))
            #expect(isDir(root + "/crpod"))
            try tree.remove("/crpod/pod")  // already gone: counts as removed
            try tree.remove("/never/was")
        }
    }

    @Test func removeOfANonEmptyDirectoryFailsWithErrno() throws {
        try withTempTree { root in
            try put(root + "/pod/stray", "")  // a file, not a cgroup: rmdir must refuse
            let error = try #require(throws: LinuxError.self) { try CgroupV2Manager(root: root).remove("/pod") }
            #expect(error == .syscall(operation: "rmdir cgroup", path: root + "/pod", errno: .directoryNotEmpty))
            #expect(isDir(root + "/pod"))
        }
    }
}

@Suite("CgroupV1Tree on a temp tree")
struct CgroupV1TreeTests {
    @Test func withoutCpusetCreatePopulatedIsMkdirP() throws {
        try withTempTree { root in
            try CgroupV1Tree(root: root, controllers: ["memory"]).createPopulated("/crpod/pod/ctr")
            #expect(isDir(root + "/crpod/pod/ctr"))
        }
    }

    @Test func cpusetSkipsDirectoriesThatExist() throws {
        try withTempTree { root in
            // No cpuset files anywhere: nothing is read because nothing is created.
            try mkdirs(root + "/crpod/pod")
            try CgroupV1Tree(root: root, controllers: ["cpuset"]).createPopulated("/crpod/pod")
            #expect(isDir(root + "/crpod/pod"))
        }
    }

    /// Testability: the copy writes with `writeExisting`, relying on the kernel to create
    /// cpuset.cpus in the new directory. A plain mkdir does not, so on a temp tree the copy
    /// always fails; the error names the child's file.
    @Test func cpusetCopyNeedsTheKernelToCreateTheChildFiles() throws {
        try withTempTree { root in
            try put(root + "/cpuset.cpus", "0-3\n")
            try put(root + "/cpuset.mems", "0\n")
            let tree = CgroupV1Tree(root: root, controllers: ["cpuset"])
            let error = try #require(throws: LinuxError.self) { try tree.createPopulated("/crpod/pod") }
            #expect(error == .syscall(operation: "open", path: root + "/crpod/cpuset.cpus", errno: .noSuchFileOrDirectory))
        }
    }

    @Test func cpusetReportsAMissingParentFile() throws {
        try withTempTree { root in
            let tree = CgroupV1Tree(root: root, controllers: ["cpuset"])
            let error = try #require(throws: LinuxError.self) { try tree.createPopulated("/pod") }
            #expect(error == .syscall(operation: "open", path: root + "/cpuset.cpus", errno: .noSuchFileOrDirectory))
        }
    }

    @Test func cpusetRefusesEscapingPaths() throws {
        try withTempTree { root in
            let tree = CgroupV1Tree(root: root, controllers: ["cpuset"])
            #expect(throws: LinuxError.self) { try tree.createPopulated("/crpod/../../escape") }
            let left = try FileManager.default.contentsOfDirectory(atPath: root)
            #expect(left.isEmpty)
        }
    }
}

@Suite("CgroupSet over temp hierarchies")
struct CgroupSetTests {
    /// A layout whose mount points are directories under `root`, read from a mount table.
    static func layout(_ root: String, v1: [String], unified: Bool = true) throws -> CgroupLayout {
        var lines = v1.map { "cgroup \(root)/\($0) cgroup rw,nosuid,relatime,\($0) 0 0" }
        if unified { lines.append("cgroup2 \(root)/unified cgroup2 rw,relatime 0 0") }
        for name in v1 + (unified ? ["unified"] : []) { try mkdirs("\(root)/\(name)") }
        return try CgroupLayout.detect(mounts: MountTable.parse(lines.joined(separator: "\n")))
    }

    @Test func createsInEveryHierarchyAndRemovesFromEvery() throws {
        try withTempTree { root in
            let set = CgroupSet(layout: try Self.layout(root, v1: ["memory", "pids", "name=systemd"]))
            #expect(set.v1.count == 3)
            #expect(set.v2?.root == root + "/unified")
            try set.create("/crpod/pod-1")
            let expected = ["memory", "pids", "name=systemd", "unified"].map { "\(root)/\($0)/crpod/pod-1" }
            #expect(set.existingDirectories("/crpod/pod-1") == expected)
            #expect(try set.procsFiles("/crpod/pod-1") == expected.map { $0 + "/cgroup.procs" })
            try set.create("/crpod/pod-1")  // again: no error
            try set.remove("/crpod/pod-1")
            #expect(set.existingDirectories("/crpod/pod-1").isEmpty)
            #expect(set.existingDirectories("/crpod").count == 4)
            try set.remove("/crpod/pod-1")  // already gone
        }
    }

    @Test func procsFilesOfTheRootAndOfPureV2() throws {
        try withTempTree { root in
            let v2Only = CgroupSet(layout: try Self.layout(root, v1: []))
            #expect(v2Only.v1.isEmpty)
            #expect(try v2Only.procsFiles("/") == [root + "/unified/cgroup.procs"])
            let v1Only = CgroupSet(layout: try Self.layout(root, v1: ["memory"], unified: false))
            #expect(v1Only.v2 == nil)
            #expect(try v1Only.procsFiles("/p") == [root + "/memory/p/cgroup.procs"])
            #expect(throws: LinuxError.self) { try v1Only.procsFiles("p") }
        }
    }

    @Test func removeTriesEveryHierarchyAndReportsTheFirstFailure() throws {
        try withTempTree { root in
            let set = CgroupSet(layout: try Self.layout(root, v1: ["memory", "pids"]))
            try set.create("/pod")
            try put(root + "/pids/pod/stray", "")  // rmdir of pids/pod fails
            let error = try #require(throws: LinuxError.self) { try set.remove("/pod") }
            #expect(error == .syscall(operation: "rmdir cgroup", path: root + "/pids/pod", errno: .directoryNotEmpty))
            #expect(set.existingDirectories("/pod") == [root + "/pids/pod"])
        }
    }

    @Test func failedCreateKeepsWhatExistedBefore() throws {
        try withTempTree { root in
            let set = CgroupSet(layout: try Self.layout(root, v1: ["memory", "cpuset"]))
            try mkdirs(root + "/memory/pod")  // someone else's, already there
            // cpuset.cpus is missing at the cpuset root, so the cpuset hierarchy fails.
            #expect(throws: LinuxError.self) { try set.create("/pod") }
            #expect(isDir(root + "/memory/pod"))
            #expect(!isDir(root + "/unified/pod"))
        }
    }

    /// Regression: when `createPopulated` failed after its mkdir, the hierarchy that failed was
    /// not rolled back, so its new directory survived.
    @Test func failedCreateLeavesNothingBehind() throws {
        try withTempTree { root in
            let set = CgroupSet(layout: try Self.layout(root, v1: ["memory", "cpuset"]))
            try put(root + "/cpuset/cpuset.cpus", "0-1\n")
            try put(root + "/cpuset/cpuset.mems", "0\n")
            #expect(throws: LinuxError.self) { try set.create("/pod") }
            #expect(!isDir(root + "/memory/pod"), "rolled back")
            #expect(set.existingDirectories("/pod").isEmpty)
        }
    }
}
