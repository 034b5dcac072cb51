import CrpodLinux
import Foundation
import Testing

@testable import CrpodDrivers

@Suite("CRIU cgroup yard: CRIU's names for the hierarchies, as symlinks")
struct CRIUCgroupYardTests {
    static let hybrid = """
        tmpfs /sys/fs/cgroup tmpfs rw,mode=755 0 0
        cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0
        cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0
        cgroup /sys/fs/cgroup/systemd cgroup rw,xattr,name=systemd 0 0
        cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nsdelegate 0 0
        """

    @Test func namesAreCRIUsForDumpAndRestore() {
        #expect(CRIUCgroupYard.dumpName(controllers: ["cpu", "cpuacct"]) == "cpu,cpuacct")
        #expect(CRIUCgroupYard.dumpName(controllers: ["name=systemd"]) == "systemd")
        #expect(CRIUCgroupYard.dumpName(controllers: []) == "unified")
        #expect(CRIUCgroupYard.restoreName(controllers: [""]) == "unified")
        #expect(CRIUCgroupYard.restoreName(controllers: ["name=systemd"]) == "systemd")
        #expect(CRIUCgroupYard.restoreName(controllers: ["cpu", "name=x"]) == "cpu,x")
        #expect(CRIUCgroupYard.dumpName(controllers: ["cpu", "name=x"]) == "cpu,name=x", "dump cuts only a leading name=")
    }

    @Test func aHybridHostsYardCoversWhatItsCgroupFileAndImagesName() throws {
        let yard = CRIUCgroupYard(layout: try CgroupLayout.detect(mounts: MountTable.parse(Self.hybrid)))
        #expect(yard.entries == ["cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "memory": "/sys/fs/cgroup/memory",
                                 "systemd": "/sys/fs/cgroup/systemd", "unified": "/sys/fs/cgroup/unified"])
        let lines = try ProcCgroup.parse("4:memory:/c\n3:cpu,cpuacct:/c\n1:name=systemd:/c\n0::/c\n")
        #expect(yard.covers(lines.map { CRIUCgroupYard.dumpName(controllers: $0.controllers) }))
        #expect(yard.covers([["cpu", "cpuacct"], [""], ["name=systemd"]].map(CRIUCgroupYard.restoreName(controllers:))))
        #expect(!yard.covers(["pids"]), "a checkpoint from a host with pids mounted: CRIU must mount it itself")
        #expect(yard.missing(["memory", "pids", "unified", "net_cls"]) == ["pids", "net_cls"])
        #expect(CRIUCgroupYard.dumpNames(ofProcess: "self")?.isEmpty == false)
    }

    @Test func materializeMakesSymlinksOnceAndRefusesATamperedYard() throws {
        let parent = try Files.makeTemporaryDirectory(in: "/tmp", prefix: "cgroup-yard-test-")
        defer { try? Files.removeTree(parent) }
        let yard = CRIUCgroupYard(entries: ["unified": "/sys/fs/cgroup", "memory": "/sys/fs/cgroup/memory"])
        let path = try yard.materialize(under: parent + "/yards")
        let up = String(repeating: "../", count: path.split(separator: "/").count)
        #expect(Files.readLink(path + "/unified") == up + "sys/fs/cgroup" && Files.readLink(path + "/memory") == up + "sys/fs/cgroup/memory")
        #expect(Files.resolvedPath(path + "/unified") == "/sys/fs/cgroup", "relative, and it reaches the hierarchy")
        #expect(try yard.materialize(under: parent + "/yards") == path, "the same yard is found again")
        #expect(try Files.listDirectory(parent + "/yards").map { parent + "/yards/" + $0 } == [path], "no staging directory is left")
        let other = CRIUCgroupYard(entries: ["unified": "/sys/fs/cgroup/unified"])
        #expect(try other.materialize(under: parent + "/yards") != path, "other hierarchies, another yard")
        try Files.removeTree(path + "/memory")
        #expect(throws: (any Error).self) { try yard.materialize(under: parent + "/yards") }
    }

    @Test func theYardIsPassedToDumpAndRestore() {
        let driver = CRIUDriver(criuPath: "/nonexistent/criu")
        var dump = CRIUDumpOptions(pid: 7, imagesDirectory: "/i", workDirectory: "/w", logging: CRIULogging(file: "dump.log"))
        #expect(!driver.dumpArguments(dump).contains("--cgroup-yard"))
        dump.cgroupYard = "/run/crpod/cgroup-yard/1f"
        let dumpArguments = driver.dumpArguments(dump)
        #expect(zip(dumpArguments, dumpArguments.dropFirst()).contains { $0 == "--cgroup-yard" && $1 == "/run/crpod/cgroup-yard/1f" })
        var restore = CRIURestoreOptions(imagesDirectory: "/i", workDirectory: "/w", logging: CRIULogging(file: "restore.log"), pidFile: "p")
        restore.cgroupYard = "/run/crpod/cgroup-yard/1f"
        let arguments = driver.restoreArguments(restore)
        #expect(zip(arguments, arguments.dropFirst()).contains { $0 == "--cgroup-yard" && $1 == "/run/crpod/cgroup-yard/1f" })
    }
}

@Suite("native restore: which hierarchies the images name, for the cgroup yard")
struct NativeRestoreCgroupFactsTests {
    @Test func noImageNamesNoneAndAnUnreadableOneGivesNoYard() throws {
        let images = try Files.makeTemporaryDirectory(in: "/tmp", prefix: "native-cgroup-facts-")
        defer { try? Files.removeTree(images) }
        #expect(try NativeEngine.imageFacts(images).cgroupControllers == [])
        try Files.writeAtomically(images + "/cgroup.img", Array("not a CRIU image".utf8))
        #expect(try NativeEngine.imageFacts(images).cgroupControllers == nil, "CRIU judges the image; crpod passes no yard")
    }
}
