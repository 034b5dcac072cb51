import Foundation
import SystemPackage
import Testing

@testable import CrpodDrivers

@Suite struct CRIUArgumentTests {
    let criu = CRIUDriver(criuPath: "/usr/local/sbin/criu")
    let logging = CRIULogging(file: "dump.log")

    @Test func aPlainDumpNamesTreeImagesWorkAndLog() {
        let options = CRIUDumpOptions(pid: 42, imagesDirectory: "/i", workDirectory: "/w", logging: logging)
        #expect(criu.dumpArguments(options) == ["dump", "-t", "42", "-D", "/i", "-W", "/w", "-o", "dump.log", "-v4"])
        #expect(options.logPath == "/w/dump.log")
    }

    @Test func aPodMemberDumpMarksItsPodNamespacesAndMountsExternal() {
        var options = CRIUDumpOptions(pid: 7, imagesDirectory: "/i", workDirectory: "/w",
                                      logging: CRIULogging(file: "/l/dump.log", verbosity: .warnings))
        options.root = "/c/rootfs"
        options.leaveRunning = true
        options.tcpEstablished = true
        options.fileLocks = true
        options.manageCgroups = .soft
        options.cgroupRoots = [CRIUCgroupRoot(controller: "memory", path: "/pod/c"), CRIUCgroupRoot(controller: "name=systemd", path: "/pod/c"),
                               .unified("/pod/c"), CRIUCgroupRoot(path: "/pod/c")]
        options.freezeCgroup = "/sys/fs/cgroup/freezer/pod/c"
        options.networkLock = .skip
        options.externalNamespaces = [.net(inode: 4026532243), .pid(inode: 4026532309)]
        options.externalMounts = [CRIUExternalMount(key: "/etc/hosts", path: "/etc/hosts")]
        #expect(criu.dumpArguments(options) == [
            "dump", "-t", "7", "-D", "/i", "-W", "/w", "-o", "/l/dump.log", "-v2", "--root", "/c/rootfs",
            "--leave-running", "--tcp-established", "--file-locks", "--manage-cgroups=soft",
            "--cgroup-root", "memory:/pod/c", "--cgroup-root", "name=systemd:/pod/c", "--cgroup-root", ":/pod/c", "--cgroup-root", "/pod/c",
            "--freeze-cgroup", "/sys/fs/cgroup/freezer/pod/c", "--network-lock", "skip",
            "--external", "net[4026532243]:extRootNetNS", "--external", "pid[4026532309]:extRootPidNS",
            "--external", "mnt[/etc/hosts]:/etc/hosts",
        ])
        #expect(options.logPath == "/l/dump.log")
        #expect(!criu.dumpArguments(options).contains("--shell-job"))
    }

    @Test func preCopyPreDumpsTrackMemoryAndLinksToTheParent() {
        var pre = CRIUDumpOptions(pid: 9, imagesDirectory: "/i/1", workDirectory: "/w", logging: logging)
        pre.preDump = true
        pre.leaveRunning = true  // implied by pre-dump; never passed
        pre.trackMemory = true
        #expect(criu.dumpArguments(pre) == ["pre-dump", "-t", "9", "-D", "/i/1", "-W", "/w", "-o", "dump.log", "-v4", "--track-mem"])
        var final = CRIUDumpOptions(pid: 9, imagesDirectory: "/i/2", workDirectory: "/w", logging: logging)
        final.previousImagesDirectory = "../1"
        final.trackMemory = true
        final.networkLock = .nftables
        #expect(criu.dumpArguments(final) == [
            "dump", "-t", "9", "-D", "/i/2", "-W", "/w", "-o", "dump.log", "-v4",
            "--network-lock", "nftables", "--prev-images-dir", "../1", "--track-mem",
        ])
    }

    @Test func aRestoreIntoAnotherPodInheritsJoinsAndMaps() {
        var options = CRIURestoreOptions(imagesDirectory: "/i", workDirectory: "/w",
                                         logging: CRIULogging(file: "restore.log"), pidFile: "/w/pid")
        options.root = "/c2/rootfs"
        options.restoreSibling = true
        options.tcpEstablished = true
        options.fileLocks = true
        options.evasiveDevices = true
        options.manageCgroups = .soft
        options.cgroupRoots = [CRIUCgroupRoot(path: "/podB/c2")]
        options.inheritedFiles = [
            CRIUInheritedFile(fd: 3, key: CRIUExternalNamespace.netKey, source: "/proc/5/ns/net"),
            CRIUInheritedFile(fd: 4, key: CRIUExternalNamespace.pidKey, source: "/proc/5/ns/pid"),
            CRIUInheritedFile(fd: 1, key: "pipe:[800589]", source: nil),
        ]
        options.joinedNamespaces = [CRIUJoinedNamespace(kind: "ipc", path: "/proc/5/ns/ipc"),
                                    CRIUJoinedNamespace(kind: "uts", path: "/proc/5/ns/uts")]
        options.externalMounts = [CRIUExternalMount(key: "/etc/hosts", path: "/run/podB/hosts")]
        options.lsmProfile = "selinux:system_u:system_r:container_t:s0:c1,c2"
        options.lsmMountContext = "system_u:object_r:container_file_t:s0:c1,c2"
        #expect(criu.restoreArguments(options) == [
            "restore", "-D", "/i", "-W", "/w", "-o", "restore.log", "-v4", "--restore-detached", "--pidfile", "/w/pid",
            "--restore-sibling", "--root", "/c2/rootfs", "--tcp-established", "--file-locks", "--evasive-devices",
            "--manage-cgroups=soft", "--cgroup-root", "/podB/c2",
            "--inherit-fd", "fd[3]:extRootNetNS", "--inherit-fd", "fd[4]:extRootPidNS", "--inherit-fd", "fd[1]:pipe:[800589]",
            "--join-ns", "ipc:/proc/5/ns/ipc", "--join-ns", "uts:/proc/5/ns/uts",
            "--external", "mnt[/etc/hosts]:/run/podB/hosts",
            "--lsm-profile", "selinux:system_u:system_r:container_t:s0:c1,c2",
            "--lsm-mount-context", "system_u:object_r:container_file_t:s0:c1,c2",
        ])
        #expect(options.logPath == "/w/restore.log" && options.pidFilePath == "/w/pid")
    }

    @Test func aPlainRestoreIsDetachedWithAPidfile() {
        let options = CRIURestoreOptions(imagesDirectory: "/i", workDirectory: "/w", logging: CRIULogging(file: "r.log"), pidFile: "pid")
        #expect(criu.restoreArguments(options) == ["restore", "-D", "/i", "-W", "/w", "-o", "r.log", "-v4", "--restore-detached", "--pidfile", "pid"])
        #expect(options.pidFilePath == "/w/pid")
    }

    @Test func inheritedFilesWithASourceAreOpenedByAShellThatExecsCRIU() throws {
        let files = [CRIUInheritedFile(fd: 3, key: "extRootNetNS", source: "/proc/5/ns/net"),
                     CRIUInheritedFile(fd: 1, key: "pipe:[1]", source: nil),
                     CRIUInheritedFile(fd: 4, key: "extRootPidNS", source: "/proc/5/ns/pid with space")]
        let (executable, arguments) = try criu.launchCommand(["restore", "-D", "/i"], inheriting: files)
        #expect(executable == "/bin/sh")
        #expect(arguments == ["-c", #"exec 3<"$1" 4<"$2"; shift 2; exec "$@""#, "criu-fds",
                              "/proc/5/ns/net", "/proc/5/ns/pid with space", "/usr/local/sbin/criu", "restore", "-D", "/i"])
        let direct = try criu.launchCommand(["dump"], inheriting: [CRIUInheritedFile(fd: 1, key: "pipe:[1]", source: nil)])
        #expect(direct.executable == "/usr/local/sbin/criu" && direct.arguments == ["dump"])
    }

    @Test("descriptors a shell cannot open, or given twice, are refused", arguments: [
        [CRIUInheritedFile(fd: 10, key: "k", source: "/x")],
        [CRIUInheritedFile(fd: 2, key: "k", source: "/x")],
        [CRIUInheritedFile(fd: 3, key: "a", source: "/x"), CRIUInheritedFile(fd: 3, key: "b", source: nil)],
    ])
    func badInheritedDescriptors(files: [CRIUInheritedFile]) {
        #expect(throws: CRIUDriverError.self) { try criu.launchCommand(["restore"], inheriting: files) }
    }

    /// What CRIU 4.2.1 printed here for `criu check --feature X`.
    @Test func featureAnswersAreClassified() {
        #expect(CRIUFeatureSupport(succeeded: true, output: "external_net_ns is supported\n") == .supported)
        #expect(CRIUFeatureSupport(
            succeeded: false, output: "Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot will not work.\n")
            == .unsupported(reason: "Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot will not work."))
        #expect(CRIUFeatureSupport(succeeded: false, output: "Error (criu/cr-check.c:1901): Unknown feature nosuch\n")
            == .unknownFeature(detail: "Error (criu/cr-check.c:1901): Unknown feature nosuch"))
        #expect(CRIUFeatureSupport(succeeded: false, output: "") == .unsupported(reason: "criu check failed without saying why"))
    }
}

@Suite struct CRIUDriverTests {
    let tools: FakeTools

    init() throws {
        tools = try FakeTools()
    }

    func driver(_ body: String) throws -> CRIUDriver {
        CRIUDriver(criuPath: try tools.script("criu", body: body))
    }

    @Test func dumpRunsCRIUWithTheBuiltArguments() async throws {
        let criu = try driver("exit 0")
        var options = CRIUDumpOptions(pid: 42, imagesDirectory: tools.path("img"), workDirectory: tools.path("work"),
                                      logging: CRIULogging(file: "dump.log"))
        options.externalNamespaces = [.net(inode: 1), .pid(inode: 2)]
        options.networkLock = .skip
        try await criu.dump(options)
        #expect(try tools.invocations("criu") == [criu.dumpArguments(options)])
    }

    /// A CRIU log as 4.2.1 writes it for a failed dump: the harmless rlimit error, the real one.
    static let failedDumpLog = """
        (00.100000) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
        (00.120000) Dumping path for 3 fd via self 12 [/data]
        (00.130000) Error (criu/files-reg.c:1710): Can't lookup mount=187 for fd=3 path=/data
        (00.131000) Error (criu/cr-dump.c:1683): Dump files (pid: 42) failed with -1
        (00.140000) Unfreezing tasks into 1
        (00.150000) Error (criu/cr-dump.c:2111): Dumping FAILED.
        """

    @Test func aFailedDumpCarriesTheErrorLinesOfItsLog() async throws {
        let log = tools.path("dump.log")
        try tools.writeFile(tools.path("canned.log"), Self.failedDumpLog + "\n", mode: 0o644)
        let criu = try driver(#"cp "$(dirname "$0")/canned.log" "\#(log)"; exit 1"#)
        let options = CRIUDumpOptions(pid: 42, imagesDirectory: tools.path("img"), workDirectory: tools.path("work"),
                                      logging: CRIULogging(file: log))
        let error = await #expect(throws: DriverError.self) { try await criu.dump(options) }
        guard case .toolFailed(let tool, let arguments, let status, let tail) = error else {
            Issue.record("expected toolFailed, got \(String(describing: error))")
            return
        }
        #expect(tool == "criu" && status == .exited(1) && arguments == criu.dumpArguments(options))
        #expect(tail.contains("CRIU log \(log):"))
        #expect(tail.contains("Can't lookup mount=187 for fd=3 path=/data"))
        #expect(tail.contains("Dumping FAILED."))
        #expect(!tail.contains("RLIMIT_NOFILE"), "the harmless rlimit error is left out")
        #expect(error?.description.hasPrefix("criu dump failed (exit status 1):") == true)
    }

    @Test func aDumpRefusedForAnEstablishedConnectionSaysWhatToDo() async throws {
        let log = tools.path("dump.log")
        let criu = try driver(#"echo '(00.1) Error (criu/sk-inet.c:191): inet: Connected TCP socket, consider using --tcp-established option.' > "\#(log)"; exit 1"#)
        let options = CRIUDumpOptions(pid: 1, imagesDirectory: "/i", workDirectory: "/w", logging: CRIULogging(file: log))
        await #expect {
            try await criu.dump(options)
        } throws: { error in
            guard case DriverError.criuRefused(_, _, _, let reason, let advice, _) = error else { return false }
            return reason.contains("consider using --tcp-established") && advice.contains("--tcp-established")
        }
    }

    @Test func restoreOpensInheritedFilesReattachesStdioAndReadsThePidfile() async throws {
        let pidFile = tools.path("restored.pid")
        try tools.writeFile(tools.path("netns-standin"), "net\n", mode: 0o644)
        try tools.writeFile(tools.path("pidns-standin"), "pid\n", mode: 0o644)
        let criu = try driver(#"""
            cat <&3 > "$(dirname "$0")/fd3.seen"; cat <&4 > "$(dirname "$0")/fd4.seen"
            echo "restored task writes here"
            echo 4242 > "\#(pidFile)"
            """#)
        var options = CRIURestoreOptions(imagesDirectory: "/i", workDirectory: tools.path("w"),
                                         logging: CRIULogging(file: "restore.log"), pidFile: pidFile)
        options.inheritedFiles = [
            CRIUInheritedFile(fd: 3, key: CRIUExternalNamespace.netKey, source: tools.path("netns-standin")),
            CRIUInheritedFile(fd: 4, key: CRIUExternalNamespace.pidKey, source: tools.path("pidns-standin")),
            CRIUInheritedFile(fd: 1, key: "pipe:[7]", source: nil),
        ]
        let stdioPath = tools.path("ctr.log")
        let stdio = try FileDescriptor.open(stdioPath, .writeOnly, options: [.create], permissions: [.ownerReadWrite])
        defer { try? stdio.close() }
        let pid = try await criu.restore(options, stdio: stdio)
        #expect(pid == 4242)
        #expect(try tools.read(tools.path("fd3.seen")) == "net\n" && tools.read(tools.path("fd4.seen")) == "pid\n")
        #expect(try tools.read(stdioPath) == "restored task writes here\n")
        #expect(try tools.invocations("criu") == [criu.restoreArguments(options)], "CRIU sees exactly its own argv")
    }

    @Test func anInheritedFileThatCannotBeOpenedFailsWithoutStaleLogLines() async throws {
        let log = tools.path("restore.log")
        try tools.writeFile(log, "(00.1) Error (criu/cr-restore.c:1): from an earlier run\n", mode: 0o644)
        let criu = try driver("exit 0")
        var options = CRIURestoreOptions(imagesDirectory: "/i", workDirectory: "/w", logging: CRIULogging(file: log), pidFile: "/w/pid")
        options.inheritedFiles = [CRIUInheritedFile(fd: 3, key: CRIUExternalNamespace.netKey, source: tools.path("no-such-ns"))]
        let error = await #expect(throws: DriverError.self) { try await criu.restore(options) }
        guard case .toolFailed(let tool, _, _, let tail) = error else {
            Issue.record("expected toolFailed, got \(String(describing: error))")
            return
        }
        #expect(tool == "criu" && tail.contains("no-such-ns") && !tail.contains("earlier run"), "\(tail)")
        #expect(!FileManager.default.fileExists(atPath: tools.path("criu.argv")), "CRIU never ran")
    }

    @Test func aRestoreWithoutAPidInItsPidfileIsAnError() async throws {
        let pidFile = tools.path("restored.pid")
        let criu = try driver(#"echo garbage > "\#(pidFile)""#)
        let options = CRIURestoreOptions(imagesDirectory: "/i", workDirectory: "/w", logging: CRIULogging(file: "r.log"), pidFile: pidFile)
        await #expect(throws: CRIUDriverError.pidFileUnreadable(path: pidFile, content: "garbage\n")) {
            try await criu.restore(options)
        }
    }

    @Test func featureProbesAskOneFeatureEach() async throws {
        let criu = try driver(#"""
            case "$2" in
              external_net_ns) echo "external_net_ns is supported" ;;
              mem_dirty_track) echo "Warn  (criu/cr-check.c:824): Dirty tracking is OFF. Memory snapshot will not work." >&2; exit 1 ;;
              *) echo "Error (criu/cr-check.c:1901): Unknown feature $2" >&2; exit 1 ;;
            esac
            """#)
        let answers = await criu.features([.externalNetNS, .memDirtyTrack, CRIUFeature(rawValue: "nosuch")])
        #expect(answers[.externalNetNS] == .supported)
        #expect(answers[.memDirtyTrack]?.isSupported == false)
        #expect(answers[CRIUFeature(rawValue: "nosuch")] == .unknownFeature(detail: "Error (criu/cr-check.c:1901): Unknown feature nosuch"))
        #expect(try tools.invocations("criu") == [["check", "--feature", "external_net_ns"], ["check", "--feature", "mem_dirty_track"], ["check", "--feature", "nosuch"]])
    }
}
