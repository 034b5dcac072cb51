#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodLinux
import Foundation
import Testing

@testable import CrpodDrivers

/// Which container the native dump targets, and the facts read of it, with this test process
/// standing in for a container's init (no root needed).
@Suite struct NativeDumpTargetTests {
    let base: String
    let engine: NativeEngine

    init() throws {
        base = try Files.makeTemporaryDirectory(in: "/tmp", prefix: "native-dump-target-")
        let layout = try CgroupLayout.detect(mounts: MountTable.parse("cgroup2 \(base)/cgroup cgroup2 rw 0 0\n"))
        engine = NativeEngine(criu: CRIUDriver(criuPath: "/nonexistent/criu"), stateRoot: base + "/native", cgroups: CgroupSet(layout: layout))
    }

    func bundle(namespaces: JSONValue, annotations: JSONValue = [:]) throws -> String {
        let bundle = base + "/bundle"
        try Files.makeDirectories(bundle)
        let spec = try OCISpec(json: ["root": ["path": "rootfs"], "annotations": annotations,
                                      "linux": ["namespaces": namespaces, "maskedPaths": ["/proc/self/status", "/proc", "/nope"]]])
        try Files.writeAtomically(bundle + "/config.json", Array(try spec.data()))
        return bundle
    }

    @Test func aRecordedContainerIsDumpedFromItsStateAndAnotherEnginesFromItsInitAndBundle() throws {
        defer { try? Files.removeTree(base) }
        let me = try ProcessIdentity.of(pid: getpid())
        try engine.record(NativeContainerState(id: "n", initProcess: me, bundle: "/b", rootfs: "/r", cgroupPath: "/pod/n", created: "now"))
        let options = CheckpointOptions(imagePath: base + "/i", workPath: base + "/w")
        #expect(try engine.dumpTarget(id: "n", options: options)
            == NativeDumpTarget(id: "n", initPid: me.pid, bundle: "/b", rootfs: "/r", cgroupPath: "/pod/n"))
        var elsewhere = options
        elsewhere.startedElsewhere = StartedContainer(pid: 77, bundle: "/runc/bundle")
        #expect(try engine.dumpTarget(id: "r", options: elsewhere) == NativeDumpTarget(id: "r", initPid: 77, bundle: "/runc/bundle"))
        #expect(throws: NativeEngineError.notFound(id: "x")) { try engine.dumpTarget(id: "x", options: options) }
        try engine.record(NativeContainerState(id: "gone", initProcess: ProcessIdentity(pid: me.pid, startTime: me.startTime + 1),
                                               bundle: "/b", rootfs: "/r", cgroupPath: "/pod/g", created: "now"))
        #expect(throws: NativeEngineError.notRunning(id: "gone")) { try engine.dumpTarget(id: "gone", options: options) }
    }

    @Test func factsComeFromTheSpecAndTheInitsProc() throws {
        defer { try? Files.removeTree(base) }
        let pid = getpid()
        let bundle = try bundle(namespaces: [["type": "network", "path": .string("/proc/\(pid)/ns/net")], ["type": "ipc", "path": .string("/proc/\(pid)/ns/ipc")]],
                                annotations: .object([CRIUContainerConfig.annotation: .string(base + "/missing.conf")]))
        let facts = try engine.dumpFacts(NativeDumpTarget(id: "r", initPid: pid, bundle: bundle))
        #expect(facts.root == bundle + "/rootfs", "a relative root.path is the bundle's")
        let netInode = try NamespaceRef.of(pid: pid, kind: .net).inode
        #expect(facts.joinedNamespaceInodes == [NamespaceKind.net: netInode], "only net and pid matter to CRIU")
        #expect(facts.maskedFiles == ["/proc/self/status"], "a file yes; a directory or a missing path no")
        #expect(facts.containerMounts.contains { $0.mountPoint == "/" })
        #expect(facts.configFile == nil, "a config file that does not exist is not passed")
        #expect(facts.stdioTargets.count == 3)
        #expect(facts.stdioTargets.allSatisfy { !$0.isEmpty }, "this process has fds 0-2 open: \(facts.stdioTargets)")
        try engine.writeDescriptors(["/dev/null", "pipe:[12]", "pipe:[12]"], imagePath: base)
        let written = try Files.readText(base + "/descriptors.json")
        #expect(written == #"["/dev/null","pipe:[12]","pipe:[12]"]"#, "runc's format, slashes unescaped")
    }
}
