#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodCore
import CrpodDrivers
import CrpodLinux
import SystemPackage
import Testing

/// A counter that writes each number to /tmp/count in its rootfs, then to its stdout (the pipe
/// to crpod-logger). The number goes to a temporary file renamed over /tmp/count, so a dump that
/// freezes the shell between `>`'s truncation and its write never leaves an empty file (a CI run
/// read nil right after a dump).
let fileCounter = ["sh", "-c",
                   "i=0; while true; do echo $i > /tmp/count.next; mv /tmp/count.next /tmp/count; echo count $i; i=$((i+1)); sleep 0.1; done"]

@Suite("CRIUDriver against real CRIU: dump in pod A, restore into pod B without runc", .serialized,
       .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct NativeCRIUTests {
    /// The container's /dev/shm is a bind of pod A's shm, so CRIU records it by key (external)
    /// at dump; at restore it is bound from pod B's shm, or with `externalShm` from a tmpfs the
    /// test mounts (holding a marker file the restored task must see).
    @Test("a crpod container dumped and restored by CRIUDriver continues in pod B's namespaces and a new cgroup",
          arguments: [false, true])
    func dumpInPodARestoreInPodB(externalShm: Bool) async throws {
        try await withCrpod { crpod in
            let (source, criu) = try await NativeSubject.countingInPodA(crpod)
            let dumpOptions = try source.dumpOptions(base: crpod.base)
            let dumpTime = try await ContinuousClock().measure { try await criu.dump(dumpOptions) }
            #expect(try await eventually { try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state != "running" })
            let dumpedCount = try #require(source.count())

            let target = try await NativeTarget.prepare(crpod, pod: "pb", externalShm: externalShm)
            do {
                let options = try target.restoreOptions(for: source)
                var pid: Int32 = 0
                let restoreTime = try await ContinuousClock().measure { pid = try await target.restore(options, with: criu) }
                try await target.verify(pid, continuing: dumpedCount, crpod: crpod)
                let timings = NativeTimings(dump: dumpTime, restore: restoreTime, dumpOptions: dumpOptions, restoreOptions: options)
                try await target.cleanUp()
                try await crpod.ok(["rm", "-f", "c"])
                print("native CRIU (busybox counter, pod A -> pod B, external /dev/shm: \(externalShm)): \(timings); "
                      + "crpod restore --import via runc of the same counter: \(try await Self.runcRestoreTime(crpod))")
            } catch {
                try? await target.cleanUp()
                throw error
            }
            try await crpod.ok(["pod", "rm", "-f", "pa"])
            try await crpod.ok(["pod", "rm", "-f", "pb"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    /// The same counter checkpointed and restored into pod B by crpod (runc): the wall time of
    /// `crpod restore --import`, for a rough side-by-side.
    static func runcRestoreTime(_ crpod: CrpodInstance) async throws -> Duration {
        try await crpod.ok(["run", "--name", "r", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + fileCounter)
        #expect(try await eventually { lastCount(try await crpod.ok(["logs", "r"])) ?? 0 >= 3 })
        let archive = crpod.base + "/r.tar.zst"
        try await crpod.ok(["checkpoint", "--export", archive, "r"])
        let time = try await ContinuousClock().measure {
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "r2"])
        }
        try await crpod.ok(["rm", "-f", "r2"])
        try await crpod.ok(["rm", "-f", "r"])
        return time
    }
}

/// The container the test moves, as crpod ran it in pod A.
struct NativeSubject {
    let pid: Int32
    /// The container's root as the host sees it (crpod's overlay mount, kept after the dump).
    let rootfs: String
    /// CRIU's name of the pipe on fd 1: `pipe:[<inode>]`.
    let stdioKey: String
    let namespaces: [String: UInt64]

    /// Pods pa and pb sharing ipc,net,uts,pid, the file counter `c` running in pa and counting,
    /// and a driver for the CRIU on PATH: where every bare-CRIU test starts.
    static func countingInPodA(_ crpod: CrpodInstance) async throws -> (source: NativeSubject, criu: CRIUDriver) {
        let share = ["--share", "ipc,net,uts,pid"]
        try await crpod.ok(["pod", "create"] + share + ["pa"])
        try await crpod.ok(["pod", "create"] + share + ["pb"])
        try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + fileCounter)
        let source = try await NativeSubject.inspect(crpod, container: "c")
        #expect(try await eventually { (source.count() ?? 0) >= 3 })
        let criu = try CRIUDriver(criuPath: #require(ToolRunner.which("criu", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "")))
        return (source, criu)
    }

    static func inspect(_ crpod: CrpodInstance, container: String) async throws -> NativeSubject {
        let summary = try await crpod.json(ContainerJSON.self, ["inspect", container])
        let pid = try #require(summary.pid)
        struct Config: Decodable { struct Root: Decodable { var path: String }; var root: Root }
        let config = try JSONDecoder().decode(Config.self, from: Data(Files.read(summary.bundle + "/config.json")))
        let stdioKey = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/1")
        #expect(stdioKey.hasPrefix("pipe:["), "stdout is the pipe to crpod-logger: \(stdioKey)")
        var namespaces: [String: UInt64] = [:]
        for kind in ["net", "pid"] { namespaces[kind] = summary.namespaces.inode(kind) }
        return NativeSubject(pid: pid, rootfs: config.root.path, stdioKey: stdioKey, namespaces: namespaces)
    }

    /// The number the counter last wrote to /tmp/count.
    func count() -> Int? { NativeSubject.count(inRoot: rootfs) }

    static func count(inRoot root: String) -> Int? {
        (try? Files.readText(root + "/tmp/count")).flatMap { Int($0.filter(\.isNumber)) }
    }

    /// Dump with pod A's net and pid namespaces external, killing the tree (no --leave-running).
    func dumpOptions(base: String) throws -> CRIUDumpOptions {
        for dir in ["/images", "/dump-work"] { try Files.makeDirectories(base + dir) }
        var options = CRIUDumpOptions(pid: pid, imagesDirectory: base + "/images", workDirectory: base + "/dump-work",
                                      logging: CRIULogging(file: "dump.log"))
        options.root = rootfs
        options.manageCgroups = .soft
        options.networkLock = .skip
        options.externalNamespaces = [.net(inode: try #require(namespaces["net"])), .pid(inode: try #require(namespaces["pid"]))]
        // A bind of pod A's /dev/shm (crpod binds the pod's into members): external, as runc makes binds.
        options.externalMounts = [CRIUExternalMount(key: "shm", path: "/dev/shm")]
        return options
    }
}

/// Pod B and what the test sets up there: a fresh cgroup under the pod's, a file for the
/// restored stdout, optionally a tmpfs for /dev/shm.
struct NativeTarget {
    let crpod: CrpodInstance
    let infra: Int32
    let hostname: String
    let cgroup: String
    let cgroups: CgroupSet
    let stdioPath: String
    let hostShm: String?

    static func prepare(_ crpod: CrpodInstance, pod: String, externalShm: Bool) async throws -> NativeTarget {
        let summary = try await crpod.json(PodJSON.self, ["pod", "inspect", pod])
        let cgroups = try CgroupSet(layout: CgroupLayout.current())
        let cgroup = summary.cgroupPath + "/native-c"
        try cgroups.create(cgroup)
        var hostShm = summary.shmDirectory
        if externalShm {
            let path = crpod.base + "/shm"
            try Files.makeDirectories(path, mode: 0o1777)
            try Mounts.mountTmpfs(at: path, sizeBytes: 1 << 20)
            hostShm = path
            try Files.writeAtomically(path + "/marker", Array("from the host\n".utf8))
        }
        return NativeTarget(crpod: crpod, infra: try #require(summary.infraPid), hostname: try #require(summary.hostname),
                            cgroup: cgroup, cgroups: cgroups, stdioPath: crpod.base + "/restored-stdio.log", hostShm: hostShm)
    }

    /// Restore into pod B: net and pid by inherited descriptors, ipc and uts joined, one cgroup
    /// root per controller plus the unified one (as runc passes them), stdout's pipe re-attached
    /// to CRIU's stdout, /dev/shm bound from the host when external.
    func restoreOptions(for source: NativeSubject) throws -> CRIURestoreOptions {
        let base = crpod.base
        try Files.makeDirectories(base + "/restore-work")
        var options = CRIURestoreOptions(imagesDirectory: base + "/images", workDirectory: base + "/restore-work",
                                         logging: CRIULogging(file: "restore.log"), pidFile: base + "/restore-work/pid")
        options.root = source.rootfs
        options.manageCgroups = .soft
        options.cgroupRoots = cgroups.layout.hierarchies.flatMap { hierarchy in
            hierarchy.isUnified ? [.unified(cgroup)] : hierarchy.controllers.map { CRIUCgroupRoot(controller: $0, path: cgroup) }
        }
        options.inheritedFiles = [
            CRIUInheritedFile(fd: 3, key: CRIUExternalNamespace.netKey, source: "/proc/\(infra)/ns/net"),
            CRIUInheritedFile(fd: 4, key: CRIUExternalNamespace.pidKey, source: "/proc/\(infra)/ns/pid"),
            CRIUInheritedFile(fd: 1, key: source.stdioKey, source: nil),
        ]
        options.joinedNamespaces = ["ipc", "uts"].map { CRIUJoinedNamespace(kind: $0, path: "/proc/\(infra)/ns/\($0)") }
        if let hostShm { options.externalMounts = [CRIUExternalMount(key: "shm", path: hostShm)] }
        return options
    }

    /// Applies the image rule crpod's runc path has (CRIU writes utsns-*.img into the joined UTS
    /// namespace, so it must carry pod B's hostname), then restores with the new stdout.
    func restore(_ options: CRIURestoreOptions, with criu: CRIUDriver) async throws -> Int32 {
        let names = try Files.listDirectory(options.imagesDirectory).filter(CRIUUtsns.isUtsnsImage)
        #expect(names.count == 1, "one UTS image: \(names)")
        for name in names {
            let path = options.imagesDirectory + "/" + name
            try Files.writeAtomically(path, CRIUUtsns.rewrite(Files.read(path), nodename: hostname, image: name))
        }
        let stdio = try FileDescriptor.open(stdioPath, .writeOnly, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
        defer { try? stdio.close() }
        return try await criu.restore(options, stdio: stdio)
    }

    /// The counter goes on from where it was dumped, in pod B's namespaces and the new cgroup.
    func verify(_ pid: Int32, continuing dumpedCount: Int, crpod: CrpodInstance) async throws {
        #expect(try await eventually { (NativeSubject.count(inRoot: "/proc/\(pid)/root") ?? 0) > dumpedCount + 3 },
                "the counter goes on from \(dumpedCount)")
        let logged = try #require(lastCount(try await crpod.ok(["logs", "c"])), "crpod-logger kept the lines before the dump")
        let firstRestored = try Files.readText(stdioPath).split(separator: "\n").first.flatMap { Int($0.dropFirst(6)) }
        #expect(firstRestored == logged + 1, "stdout re-attached by --inherit-fd: \(logged) then \(String(describing: firstRestored))")
        for kind in ["net", "pid", "ipc", "uts"] {
            let namespace = NamespaceKind(rawValue: kind)
            #expect(try NamespaceRef.of(pid: pid, kind: namespace).inode == NamespaceRef.of(pid: infra, kind: namespace).inode,
                    "\(kind) is pod B's")
        }
        // Only the hierarchies crpod manages: a cgroup v2 view of a hybrid host still lists the
        // v1 lines in /proc/PID/cgroup, which nobody placed.
        let placement = try ProcCgroup.parse(Files.readText("/proc/\(pid)/cgroup")).filter { entry in
            cgroups.layout.hierarchies.contains { $0.isUnified ? entry.isUnified : Set($0.controllers) == Set(entry.controllers) }
        }
        #expect(placement.count == cgroups.layout.hierarchies.count && placement.allSatisfy { $0.path == cgroup },
                "in \(cgroup) in every managed hierarchy: \(placement.map(\.path))")
        if let hostShm, hostShm == crpod.base + "/shm" {
            #expect(try Files.readText("/proc/\(pid)/root/dev/shm/marker") == "from the host\n",
                    "/dev/shm is the tmpfs bound by --external mnt[shm]:\(hostShm)")
        } else if let hostShm {
            try Files.writeAtomically(hostShm + "/pod-b", Array("pod B\n".utf8))
            #expect(try Files.readText("/proc/\(pid)/root/dev/shm/pod-b") == "pod B\n", "/dev/shm is pod B's (\(hostShm))")
        }
        #expect(try await crpod.hostname(ofProcess: infra) == hostname, "pod B keeps its hostname")
    }

    /// Kills the restored tree through its cgroup, removes the cgroup and the /dev/shm tmpfs.
    func cleanUp() async throws {
        if let v2 = cgroups.v2, v2.exists(cgroup) {
            try v2.kill(cgroup)
        } else {
            for pid in cgroups.processes(cgroup) { Glibc.kill(pid, SIGKILL) }
        }
        #expect(try await eventually { cgroups.processes(cgroup).isEmpty }, "the restored tree is gone")
        if !cgroups.existingDirectories(cgroup).isEmpty { try cgroups.remove(cgroup) }
        if let hostShm, hostShm == crpod.base + "/shm", Mounts.isMountPoint(hostShm) { try Mounts.unmount(hostShm) }
    }
}

/// Wall times of the driver's calls and CRIU's own figures (log timestamps, stats images).
struct NativeTimings: CustomStringConvertible {
    let dump: Duration
    let restore: Duration
    let frozenMicroseconds: UInt64?
    let restoreMicroseconds: UInt64?
    let restoreLogSeconds: Double?

    init(dump: Duration, restore: Duration, dumpOptions: CRIUDumpOptions, restoreOptions: CRIURestoreOptions) {
        self.dump = dump
        self.restore = restore
        frozenMicroseconds = Self.stats(in: [dumpOptions.workDirectory, dumpOptions.imagesDirectory], named: "stats-dump")?.dump?.frozenTime
        restoreMicroseconds = Self.stats(in: [restoreOptions.workDirectory, restoreOptions.imagesDirectory], named: "stats-restore")?.restore?.restoreTime
        restoreLogSeconds = Self.lastTimestamp(inLog: restoreOptions.logPath)
    }

    var description: String {
        let shown = { (value: Any?) in value.map { "\($0)" } ?? "?" }
        return "criu dump \(dump) (frozen_time \(shown(frozenMicroseconds)) µs), criu restore \(restore) (wall, incl. exec; "
            + "restore_time \(shown(restoreMicroseconds)) µs, log ends at \(shown(restoreLogSeconds)) s)"
    }

    /// CRIU's `stats-dump` / `stats-restore` from the first directory that has it.
    static func stats(in directories: [String], named name: String) -> CRIUStats? {
        for directory in directories {
            if let bytes = try? Files.read(directory + "/" + name) { return try? CRIUStatsDecoder.decodeStats(bytes, image: name) }
        }
        return nil
    }

    /// The last `(SS.ssssss)` timestamp of a CRIU log written with -v3 or more.
    static func lastTimestamp(inLog path: String) -> Double? {
        let lines = (try? Files.readText(path))?.split(separator: "\n") ?? []
        return lines.reversed().lazy.compactMap { line -> Double? in
            guard line.hasPrefix("("), let close = line.firstIndex(of: ")") else { return nil }
            return Double(line[line.index(after: line.startIndex)..<close].filter { !$0.isWhitespace })
        }.first
    }
}
