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
/// to crpod-logger).
let fileCounter = ["sh", "-c", "i=0; while true; do echo $i > /tmp/count; echo count $i; i=$((i+1)); sleep 0.1; done"]

@Suite("CRIUDriver against real CRIU: dump in pod A, restore into pod B without runc", .serialized,
       .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct NativeCRIUTests {
    @Test("a crpod container dumped and restored by CRIUDriver continues in pod B's namespaces and a new cgroup",
          arguments: [false, true])
    func dumpInPodARestoreInPodB(externalShm: Bool) async throws {
        try await withCrpod { crpod in
            let share = ["--share", "ipc,net,uts,pid"]
            try await crpod.ok(["pod", "create"] + share + ["pa"])
            try await crpod.ok(["pod", "create"] + share + ["pb"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + fileCounter)
            let source = try await NativeSubject.inspect(crpod, container: "c")
            #expect(try await eventually { (source.count() ?? 0) >= 3 })

            let criu = try CRIUDriver(criuPath: #require(ToolRunner.which("criu", searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "")))
            var dumpOptions = try source.dumpOptions(base: crpod.base)
            // Optionally /dev/shm is not dumped but recorded by key, to be bound from the host.
            if externalShm { dumpOptions.externalMounts = [CRIUExternalMount(key: "shm", path: "/dev/shm")] }
            let dumpTime = try await ContinuousClock().measure { try await criu.dump(dumpOptions) }
            #expect(try await eventually { try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state != "running" })
            let dumpedCount = try #require(source.count())

            let podB = try await crpod.json(PodJSON.self, ["pod", "inspect", "pb"])
            let infra = try #require(podB.infraPid)
            let cgroup = podB.cgroupPath + "/native-c"
            let cgroups = try CgroupSet(layout: CgroupLayout.current())
            try cgroups.create(cgroup)
            let stdioPath = crpod.base + "/restored-stdio.log"
            let stdio = try FileDescriptor.open(stdioPath, .writeOnly, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
            var options = source.restoreOptions(base: crpod.base, infra: infra)
            // One root per controller and one for the unified hierarchy, as runc passes them.
            options.cgroupRoots = cgroups.layout.hierarchies.flatMap { hierarchy in
                hierarchy.isUnified ? [.unified(cgroup)] : hierarchy.controllers.map { CRIUCgroupRoot(controller: $0, path: cgroup) }
            }
            let hostShm = crpod.base + "/shm"
            if externalShm {
                try Files.makeDirectories(hostShm, mode: 0o1777)
                try Mounts.mountTmpfs(at: hostShm, sizeBytes: 1 << 20)
                try Files.writeAtomically(hostShm + "/marker", Array("from the host\n".utf8))
                options.externalMounts = [CRIUExternalMount(key: "shm", path: hostShm)]
            }
            // The image rule the runc path applies too: CRIU writes utsns-*.img into the joined
            // UTS namespace, so it must carry pod B's hostname.
            let podBHostname = try #require(podB.hostname)
            try NativeSubject.rewriteHostname(images: options.imagesDirectory, to: podBHostname)
            var restoredPid: Int32 = 0
            let restoreTime = try await ContinuousClock().measure { restoredPid = try await criu.restore(options, stdio: stdio) }
            try stdio.close()

            let restored = NativeSubject(pid: restoredPid, rootfs: "/proc/\(restoredPid)/root", stdioKey: source.stdioKey, namespaces: [:])
            #expect(try await eventually { (restored.count() ?? 0) > dumpedCount + 3 }, "the counter goes on from \(dumpedCount)")
            let logged = try #require(lastCount(try await crpod.ok(["logs", "c"])), "crpod-logger kept the lines before the dump")
            let firstRestored = try Files.readText(stdioPath).split(separator: "\n").first.flatMap { Int($0.dropFirst(6)) }
            #expect(firstRestored == logged + 1, "stdout re-attached by --inherit-fd: \(logged) then \(String(describing: firstRestored))")
            for kind in ["net", "pid", "ipc", "uts"] {
                let namespace = NamespaceKind(rawValue: kind)
                #expect(try NamespaceRef.of(pid: restoredPid, kind: namespace).inode == NamespaceRef.of(pid: infra, kind: namespace).inode,
                        "\(kind) is pod B's")
            }
            let placement = try ProcCgroup.parse(Files.readText("/proc/\(restoredPid)/cgroup"))
            #expect(!placement.isEmpty && placement.allSatisfy { $0.path == cgroup }, "in \(cgroup) everywhere: \(placement.map(\.path))")
            if externalShm {
                #expect(try Files.readText("/proc/\(restoredPid)/root/dev/shm/marker") == "from the host\n",
                        "/dev/shm is the tmpfs bound by --external mnt[shm]:\(hostShm)")
            }
            #expect(try await crpod.hostname(ofProcess: infra) == podBHostname, "pod B keeps its hostname")
            let criuRestoreTime = NativeSubject.lastTimestamp(inLog: options.logPath)
            let frozen = NativeSubject.stats(in: [dumpOptions.workDirectory, dumpOptions.imagesDirectory], named: "stats-dump")?.dump?.frozenTime
            let restoreStats = NativeSubject.stats(in: [options.workDirectory, options.imagesDirectory], named: "stats-restore")?.restore

            try await NativeSubject.kill(restoredPid, in: cgroup, cgroups: cgroups)
            try cgroups.remove(cgroup)
            if externalShm { try Mounts.unmount(hostShm) }
            try await crpod.ok(["rm", "-f", "c"])
            let runcRestoreTime = try await Self.runcRestoreTime(crpod)
            print("""
                native CRIU (busybox counter, pod A -> pod B, external /dev/shm: \(externalShm)): criu dump \(dumpTime), criu restore \(restoreTime) \
                (wall, incl. exec; CRIU's own log ends at \(criuRestoreTime.map { "\($0) s" } ?? "?"), \
                stats: frozen \(frozen.map { "\($0) µs" } ?? "?"), restore_time \(restoreStats.map { "\($0.restoreTime) µs" } ?? "?")); crpod restore --import via runc of the same counter: \(runcRestoreTime)
                """)
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

/// What the test needs to know about the container it moves.
struct NativeSubject {
    let pid: Int32
    /// The container's root as the host sees it (the overlay mount, or /proc/<pid>/root).
    let rootfs: String
    /// CRIU's name of the pipe on fd 1: `pipe:[<inode>]`.
    let stdioKey: String
    let namespaces: [String: UInt64]

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
    func count() -> Int? {
        (try? Files.readText(rootfs + "/tmp/count")).flatMap { Int($0.filter(\.isNumber)) }
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
        return options
    }

    /// Restore into pod B: its net and pid namespaces by inherited descriptors, ipc and uts
    /// joined, stdout's pipe re-attached to CRIU's stdout.
    func restoreOptions(base: String, infra: Int32) -> CRIURestoreOptions {
        try? Files.makeDirectories(base + "/restore-work")
        var options = CRIURestoreOptions(imagesDirectory: base + "/images", workDirectory: base + "/restore-work",
                                         logging: CRIULogging(file: "restore.log"), pidFile: base + "/restore-work/pid")
        options.root = rootfs
        options.manageCgroups = .soft
        options.inheritedFiles = [
            CRIUInheritedFile(fd: 3, key: CRIUExternalNamespace.netKey, source: "/proc/\(infra)/ns/net"),
            CRIUInheritedFile(fd: 4, key: CRIUExternalNamespace.pidKey, source: "/proc/\(infra)/ns/pid"),
            CRIUInheritedFile(fd: 1, key: stdioKey, source: nil),
        ]
        options.joinedNamespaces = ["ipc", "uts"].map { CRIUJoinedNamespace(kind: $0, path: "/proc/\(infra)/ns/\($0)") }
        return options
    }

    /// Rewrites the nodename of every utsns-*.img in `images` (`CRIUUtsns`, as crpod's runc path does).
    static func rewriteHostname(images: String, to hostname: String) throws {
        let names = try Files.listDirectory(images).filter(CRIUUtsns.isUtsnsImage)
        #expect(names.count == 1, "one UTS image: \(names)")
        for name in names {
            let path = images + "/" + name
            try Files.writeAtomically(path, CRIUUtsns.rewrite(Files.read(path), nodename: hostname, image: name))
        }
    }

    /// CRIU's `stats-dump` / `stats-restore` from the first directory that has it.
    static func stats(in directories: [String], named name: String) -> CRIUStats? {
        for directory in directories {
            if let bytes = try? Files.read(directory + "/" + name) { return try? CRIUStatsDecoder.decodeStats(bytes, image: name) }
        }
        return nil
    }

    /// The last `(SS.ssssss)` timestamp of a CRIU log written with -v3 or more: CRIU's own time.
    static func lastTimestamp(inLog path: String) -> Double? {
        let lines = (try? Files.readText(path))?.split(separator: "\n") ?? []
        return lines.reversed().lazy.compactMap { line -> Double? in
            guard line.hasPrefix("("), let close = line.firstIndex(of: ")") else { return nil }
            return Double(line[line.index(after: line.startIndex)..<close].filter { !$0.isWhitespace })
        }.first
    }

    /// Kills the restored tree through its cgroup and waits until the cgroup is empty.
    static func kill(_ pid: Int32, in cgroup: String, cgroups: CgroupSet) async throws {
        if let v2 = cgroups.v2 { try v2.kill(cgroup) } else { Glibc.kill(pid, SIGKILL) }
        #expect(try await eventually { cgroups.processes(cgroup).isEmpty }, "the restored tree is gone")
    }
}
