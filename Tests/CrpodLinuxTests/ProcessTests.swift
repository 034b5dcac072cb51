import Foundation
import Testing
@testable import CrpodLinux
import CrpodCore

@Suite("ProcessIdentity")
struct ProcessIdentityTests {
    @Test func thisProcessIsAlive() throws {
        let me = try ProcessIdentity.of(pid: getpid())
        #expect(me.pid == getpid())
        #expect(me.startTime > 0)
        #expect(me.isAlive())
        #expect(try ProcessIdentity.of(pid: getpid()) == me, "the start time is stable")
    }

    @Test func aWrongStartTimeIsNotAlive() throws {
        let me = try ProcessIdentity.of(pid: getpid())
        #expect(!ProcessIdentity(pid: me.pid, startTime: me.startTime + 1).isAlive())
        #expect(!ProcessIdentity(pid: me.pid, startTime: 0).isAlive())
    }

    @Test func aMissingProcess() throws {
        let pid = Int32.max  // above any pid_max
        #expect(!ProcessIdentity(pid: pid, startTime: 1).isAlive())
        let error = try #require(throws: LinuxError.self) { try ProcessIdentity.of(pid: pid) }
        #expect(error == .syscall(operation: "open", path: "/proc/\(pid)/stat", errno: .noSuchFileOrDirectory))
    }

    /// L1: a fake /proc with a zombie and a live process.
    @Test func fakeProcRoot() throws {
        try withTempTree { proc in
            try put(proc + "/100/stat", "100 (pause) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5555 0 0\n")
            try put(proc + "/200/stat", "200 (gone) Z 1 200 200 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7777 0 0\n")
            try put(proc + "/300/stat", "not a stat line")
            let live = try ProcessIdentity.of(pid: 100, procRoot: proc)
            #expect(live == ProcessIdentity(pid: 100, startTime: 5555))
            #expect(live.isAlive(procRoot: proc))
            #expect(!ProcessIdentity(pid: 200, startTime: 7777).isAlive(procRoot: proc), "a zombie is not alive")
            #expect(!ProcessIdentity(pid: 300, startTime: 1).isAlive(procRoot: proc))
            let error = try #require(throws: LinuxError.self) { try ProcessIdentity.of(pid: 300, procRoot: proc) }
            guard case let .parse(file, _, _) = error else {
                Issue.record("expected .parse, got \(error)")
                return
            }
            #expect(file == proc + "/300/stat")
        }
    }

    @Test func codableRoundTrip() throws {
        let identity = ProcessIdentity(pid: 4242, startTime: 123_456_789)
        let data = try JSONEncoder().encode(identity)
        #expect(try JSONDecoder().decode(ProcessIdentity.self, from: data) == identity)
    }
}

@Suite("NamespaceRef")
struct NamespaceRefTests {
    static func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    @Test func netOfThisProcessMatchesProcSelf() throws {
        let ref = try NamespaceRef.of(pid: getpid(), kind: .net)
        #expect(ref.kind == .net)
        #expect(ref.path == "/proc/\(getpid())/ns/net")
        #expect(ref.inode == Self.inode("/proc/self/ns/net"))
        #expect(ref.inode != 0)
    }

    @Test func allKnownKindsOfThisProcess() throws {
        let refs = try NamespaceRef.all(pid: getpid())
        let kinds = refs.map(\.kind)
        for kind in [NamespaceKind.ipc, .net, .pid, .uts, .mnt, .user] { #expect(kinds.contains(kind)) }
        #expect(kinds == NamespaceKind.known.filter(kinds.contains), "table order")
        for ref in refs { #expect(ref.inode == Self.inode("/proc/self/ns/\(ref.kind.rawValue)")) }
    }

    /// L1: kinds the (fake) kernel lacks are left out; a missing process is an error.
    @Test func allOnAFakeProcRoot() throws {
        try withTempTree { proc in
            try put(proc + "/7/ns/net", "")
            try put(proc + "/7/ns/uts", "")
            let refs = try NamespaceRef.all(pid: 7, procRoot: proc)
            #expect(refs.map(\.kind) == [.net, .uts])
            #expect(refs.map(\.path) == [proc + "/7/ns/net", proc + "/7/ns/uts"])
            #expect(refs[0].inode == Self.inode(proc + "/7/ns/net"))
            let error = try #require(throws: LinuxError.self) { try NamespaceRef.all(pid: 8, procRoot: proc) }
            #expect(error.errno == .noSuchFileOrDirectory)
        }
    }

    @Test func codableRoundTrip() throws {
        let ref = NamespaceRef(kind: NamespaceKind(rawValue: "future"), path: "/proc/1/ns/future", inode: 4026531840)
        let data = try JSONEncoder().encode(ref)
        #expect(try JSONDecoder().decode(NamespaceRef.self, from: data) == ref)
    }
}

/// The kernel half of `NamespaceKind`; the names and pod rules are tested in CrpodCoreTests.
@Suite("NamespaceKind (kernel facts)")
struct NamespaceKindKernelTests {
    /// The CLONE_NEW* values from <linux/sched.h>.
    @Test func cloneFlags() {
        let flags = Dictionary(uniqueKeysWithValues: NamespaceKind.known.map { ($0.rawValue, $0.cloneFlag) })
        #expect(flags == [
            "ipc": 0x0800_0000, "net": 0x4000_0000, "pid": 0x2000_0000, "uts": 0x0400_0000,
            "cgroup": 0x0200_0000, "mnt": 0x0002_0000, "user": 0x1000_0000, "time": 0x80,
        ])
        #expect(NamespaceKind(rawValue: "wibble").cloneFlag == nil)
    }

    @Test func procPaths() {
        #expect(NamespaceKind(ociType: "wibble").procPath(pid: 9) == "/proc/9/ns/wibble")
        #expect(NamespaceKind.net.procPath(pid: 9, procRoot: "/host/proc") == "/host/proc/9/ns/net")
    }

    /// L1: who works on a container id. A native `criu restore` has the id only inside
    /// arguments (its cgroup roots, -D/-W paths), never as a whole one: exact matching missed
    /// it, and a CRIU left by a killed crpod outlived the reconcile.
    @Test func argumentsContainingAnID() throws {
        let id = String(repeating: "ab", count: 32)
        try withTempTree { proc in
            let criu = ["/opt/criu/ld-linux-x86-64.so.2", "--argv0", "criu", "/opt/criu/criu", "restore", "-W", "/var/lib/crpod/containers/\(id)/restore-work",
                        "--cgroup-root", "cpu:/crpod/pod/\(id)"]
            try put(proc + "/10/cmdline", criu.joined(separator: "\0") + "\0")
            try put(proc + "/11/cmdline", ["runc", "--root", "/run/crpod/runc", "restore", id].joined(separator: "\0"))
            try put(proc + "/12/cmdline", ["sleep", "1000"].joined(separator: "\0"))
            try put(proc + "/13/cmdline", "")
            #expect(Processes.pids(withArgumentContaining: id, procRoot: proc).sorted() == [10, 11])
            #expect(Processes.pids(withArgument: id, procRoot: proc) == [11], "exact matching sees runc only")
            #expect(Processes.pids(withArgumentContaining: "1000", procRoot: proc) == [12])
        }
    }
}
