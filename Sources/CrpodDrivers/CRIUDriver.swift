#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

// # The native CRIU engine's driver (issue 12, first slice)
//
// `CRIUDriver` execs `criu dump` / `criu pre-dump` / `criu restore` / `criu check` itself, so
// crpod can steer what runc decides for it today (freezer, network lock, cgroup roots). It only
// builds argv and runs CRIU; deciding the options is the engine's job.
//
// ## What runc does around CRIU (runc libcontainer/criu_linux.go) — the native engine must too
// Dump:
// - `--root <rootfs>`, images + work dir, `-v4 -o dump.log`, `--manage-cgroups=<mode>`
//   (runc default soft), orphan-pts-master, notify scripts (network-lock/unlock hooks).
// - net and pid namespaces joined by path → `--external net[<ino>]:extRootNetNS`,
//   `--external pid[<ino>]:extRootPidNS` (CRIU ≥ 3.11 / 3.15).
// - `--freeze-cgroup <freezer cgroup>` whenever a freezer path exists (v1 always; v2 with CRIU
//   ≥ 3.14). That is the ~100 ms polling freeze; without it CRIU seizes with ptrace.
// - External mounts, key = value = the destination: every `bind` mount of the spec, on v1
//   without a cgroup ns every per-controller bind under /sys/fs/cgroup, every device node, and
//   every masked path that is a file (key = path, bound from /dev/null at restore).
// - descriptors.json in the image dir: what fds 0/1/2 were (`pipe:[ino]`, /dev/null, ...).
// Restore:
// - bind-mounts the rootfs onto `<state>/criu-root` (CRIU wants a mount point whose parent is
//   not overmounted) and passes that as `--root`; creates missing mount points in the rootfs
//   (not under a tmpfs, not cgroup), bind-mounting `bind` sources first so nested mount points
//   can be made.
// - `--restore-detached --restore-sibling --evasive-devices`, `--manage-cgroups=<mode>`.
// - net/pid by path → `--inherit-fd fd[N]:extRootNetNS|extRootPidNS` (N from 4, fd open on the
//   new namespace); every other namespace with a path → `--join-ns <kind>:<path>`
//   (a cgroup ns cannot be joined).
// - external mounts `mnt[<dst>]:<source>` for bind/cgroup-v1/device mounts, and
//   `mnt[/dev/null]:/dev/null` when there are masked paths.
// - stdio: every `pipe:` entry of descriptors.json → `--inherit-fd fd[i]:pipe:[ino]` with the new
//   pipes as CRIU's fds 0/1/2.
// - cgroups: creates the container's cgroups, moves the CRIU process into them and passes one
//   `--cgroup-root <ctrl>:<path>` per line of /proc/<criu>/cgroup (the unified line is the
//   fragile one on cgroup v2 — see RUNC_CRIU_NOTES.md), then applies resources.
// - `--lsm-profile`, `--lsm-mount-context` (CRIU ≥ 3.16); veth pairs from the config.
// - notifications: setup-namespaces, network-unlock, post-restore (hooks), orphan-pts-master.
//
// ## What worked here without runc (CRIU 4.2.1, kernel 6.18, hybrid cgroups; NativeCRIUTests)
// dump: `-t <init> --root <overlay> --manage-cgroups=soft --network-lock skip --external
// net[<ino>]:extRootNetNS --external pid[<ino>]:extRootPidNS` (no external mounts needed for
// crpod's default spec: the masked files are binds of the container's own /dev/null).
// restore into pod B: same `--root` (crpod keeps the overlay mounted after the dump), a new
// cgroup made first in every hierarchy (v1 cpuset needs cpus/mems: `CgroupSet.create`), one
// `--cgroup-root` per controller plus `:<path>` for unified, `--inherit-fd fd[3]:extRootNetNS
// fd[4]:extRootPidNS` (opened by `launchCommand`), `--inherit-fd fd[1]:pipe:[<ino>]` with the new
// stdout as CRIU's fd 1, `--join-ns ipc:… uts:…`. The counter continues, its net/pid/ipc/uts are
// pod B's and every /proc/<pid>/cgroup line is the new cgroup.
// Beyond runc: `--cgroup-yard <run root>/cgroup-yard/<hash>` at dump and restore (see
// `CRIUCgroupYard`): CRIU opens the hierarchies through relative symlinks instead of mounting
// each one while the tree is frozen (~12 ms of frozen time here).
// External mounts work the same way: `--external mnt[/dev/shm]:shm` at dump, `--external
// mnt[shm]:<host tmpfs>` at restore binds crpod's tmpfs there (tested). By hand, making /dev
// (a host tmpfs holding copies of the device nodes), /dev/shm, /proc/acpi and /sys/firmware
// external also restored fine, leaving one tmpfs image (/sys/fs/cgroup) instead of five; the
// gain was within this busy host's noise (frozen 122–207 vs 179–225 ms, three runs each).
// Seen on the way: without cpuset.cpus/mems the move fails `cg: Can't move … cgroup.procs:
// No space left on device`; `--network-lock` at restore is ignored with a warning (the lock
// method is in the images); `--network-lock skip` at dump execs no iptables.
// Image rules hold for this engine too: CRIU writes utsns-*.img into the joined UTS ns, so the
// test rewrites its nodename to pod B's (`CRIUUtsns.rewrite`, as the runc path does) and pod B
// keeps its hostname (deleting the image fails: `protobuf.c:72: Unexpected EOF on
// (empty-image)`); ipcns-var's sysctls still land in pod B's IPC ns, and SysV objects must be
// dropped (`CRIUIPCImages`) when the IPC ns is shared. `NativeEngine.restore`
// (NativeEngine+Restore.swift, decided by `NativeRestorePlanner`) does all of this for crpod.
//
// ## Measured (busybox counter, 2 shared cores, noisy; eleven test runs, median in brackets)
// - `criu restore` wall incl. exec 91–217 ms [128] (CRIU's restore_time 53–92 ms) vs
//   `crpod restore --import` (runc) of the same counter into pod B 257–710 ms [416] — that one
//   also imports the archive and does crpod's bookkeeping, so it is a rough side-by-side only.
// - `criu dump` wall 115–350 ms [185]; CRIU's frozen_time 69–216 ms. In one busy run's log the
//   tree was stopped ~170 ms, ~100 ms of it tar+gzip of five tmpfs mounts (/dev, /dev/shm,
//   /sys/fs/cgroup, /proc/acpi, /sys/firmware) and ~25 ms the netns. Restore: ~40 ms mount tree, ~11 ms cgroup yard, ~48 ms "clean ghosts"
//   in the new mount ns after the task already runs. Treating those tmpfs mounts as external
//   (recreated by crpod) is where dump and restore time is won.
// - Freeze, by hand, three runs each (stats-dump): `--freeze-cgroup` (v1 freezer) freezing_time
//   100.8 ms every time (CRIU polls in 100 ms steps), frozen 82–144 ms, dump wall 230–316 ms;
//   ptrace seize (no --freeze-cgroup) freezing_time 0.3 ms, frozen 85–101 ms, wall 124–146 ms.
// - `criu check --feature mem_dirty_track` fails on this kernel: pre-copy cannot run here.

/// Runs CRIU. Each verb has a pure argument builder (`dumpArguments`, `restoreArguments`); a
/// non-zero exit throws `DriverError.toolFailed` (or `.criuRefused`) with the CRIU log's error
/// lines, like `RuncDriver.checkpoint`.
public struct CRIUDriver: Sendable {
    public let criuPath: String
    /// The POSIX shell that opens inherited descriptors before exec'ing CRIU (swift-subprocess
    /// closes every descriptor above 2 in the child).
    public let shellPath: String
    public let runner: ToolRunner

    public init(criuPath: String, shellPath: String = "/bin/sh", runner: ToolRunner = ToolRunner()) {
        self.criuPath = criuPath
        self.shellPath = shellPath
        self.runner = runner
    }

    var toolName: String { ToolRunner.toolName(criuPath) }

    /// Descriptors a POSIX shell can open by number (dash takes one digit; 0–2 are stdio).
    public static let inheritableDescriptors: ClosedRange<Int32> = 3...9

    /// The executable and argv that run CRIU with `arguments` and the `files` that have a source
    /// open as their descriptors: `sh -c 'exec 3<"$1" 4<"$2"; shift 2; exec "$@"' criu-fds
    /// <source3> <source4> <criu> <arguments…>`. Paths travel as positional parameters, never
    /// inside the script. Without such files CRIU is run directly.
    public func launchCommand(_ arguments: [String], inheriting files: [CRIUInheritedFile]) throws
        -> (executable: String, arguments: [String])
    {
        let opened = files.filter { $0.source != nil }
        guard !opened.isEmpty else { return (criuPath, arguments) }
        var seen = Set<Int32>()
        for file in files {
            guard seen.insert(file.fd).inserted else {
                throw CRIUDriverError.invalidInheritedFile(fd: file.fd, reason: "descriptor given twice")
            }
            if file.source != nil, !Self.inheritableDescriptors.contains(file.fd) {
                throw CRIUDriverError.invalidInheritedFile(
                    fd: file.fd, reason: "a file opened for CRIU must use descriptor 3…9")
            }
        }
        let redirections = opened.enumerated().map { "\($0.element.fd)<\"$\($0.offset + 1)\"" }
        let script = "exec \(redirections.joined(separator: " ")); shift \(opened.count); exec \"$@\""
        let sources = opened.compactMap(\.source)
        return (shellPath, ["-c", script, "criu-fds"] + sources + [criuPath] + arguments)
    }

    /// Runs CRIU; a failure carries the relevant lines of the log at `logPath`. A log left by an
    /// earlier run is removed first (CRIU truncates it anyway), so a failure before CRIU starts —
    /// the shell cannot open an inherited file — is not explained by stale lines. `timeLimit`:
    /// CRIU's process group is killed once it is up (`DriverError.timedOut`).
    @discardableResult
    func runChecked(
        _ arguments: [String], inheriting files: [CRIUInheritedFile], logPath: String, stdio: FileDescriptor? = nil,
        timeLimit: Duration? = nil
    ) async throws -> ToolResult {
        let (executable, argv) = try launchCommand(arguments, inheriting: files)
        if unlink(logPath) != 0, errno != ENOENT {
            throw DriverError.fileFailed(operation: "remove the old CRIU log", path: logPath, errno: Errno(rawValue: errno))
        }
        let result = try await runner.run(executable, argv, stdout: stdio, timeLimit: timeLimit)
        guard result.succeeded else {
            let error = DriverError.toolFailed(
                tool: toolName, arguments: arguments, status: result.status, stderrTail: result.diagnosticTail())
            throw CRIULog.attach(to: error, logPath: logPath)
        }
        return result
    }

    // MARK: - Feature probes

    /// `criu check --feature <name>` for each feature, in order.
    public func features(_ names: [CRIUFeature]) async -> [CRIUFeature: CRIUFeatureSupport] {
        let probe = CRIUProbe(runner: runner)
        var answers: [CRIUFeature: CRIUFeatureSupport] = [:]
        for name in names {
            let (ok, output) = await probe.check(feature: name.rawValue, at: criuPath)
            answers[name] = CRIUFeatureSupport(succeeded: ok, output: output)
        }
        return answers
    }
}

/// A feature `criu check --feature` knows.
public struct CRIUFeature: RawRepresentable, Sendable, Hashable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let externalNetNS = CRIUFeature(rawValue: "external_net_ns")
    public static let nsPid = CRIUFeature(rawValue: "ns_pid")
    public static let memDirtyTrack = CRIUFeature(rawValue: "mem_dirty_track")
    public static let networkLockNftables = CRIUFeature(rawValue: "network_lock_nftables")
    public static let cgroupNamespace = CRIUFeature(rawValue: "cgroupns")
    public static let clone3SetTid = CRIUFeature(rawValue: "clone3_set_tid")
    public static let moveMountSetGroup = CRIUFeature(rawValue: "move_mount_set_group")
}

/// CRIU's answer about one feature. Exit 0 is the only "yes"; CRIU 4.x says why not in a
/// `Warn`/`Error` line (`Dirty tracking is OFF. Memory snapshot will not work.`), and
/// `Unknown feature X` when it does not know the name at all.
public enum CRIUFeatureSupport: Sendable, Hashable {
    case supported
    case unsupported(reason: String)
    case unknownFeature(detail: String)

    public var isSupported: Bool { self == .supported }

    public init(succeeded: Bool, output: String) {
        if succeeded {
            self = .supported
            return
        }
        let lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingTrailingWhitespace() }
        if let unknown = lines.first(where: { $0.contains("Unknown feature") }) {
            self = .unknownFeature(detail: unknown)
            return
        }
        let reasons = lines.filter { $0.hasPrefix("Warn") || $0.hasPrefix("Error") || $0.contains("not supported") }
        let reason = reasons.isEmpty ? tailLines(output, count: 3) : reasons.joined(separator: "\n")
        self = .unsupported(reason: reason.isEmpty ? "criu check failed without saying why" : reason)
    }
}

/// Errors of the CRIU driver that are not a CRIU run failing (those are `DriverError`).
public enum CRIUDriverError: Error, CustomStringConvertible, Sendable, Equatable {
    /// An inherited descriptor cannot be set up as asked.
    case invalidInheritedFile(fd: Int32, reason: String)
    /// CRIU said it restored, but its pidfile holds no PID.
    case pidFileUnreadable(path: String, content: String)

    public var description: String {
        switch self {
        case .invalidInheritedFile(let fd, let reason):
            return "cannot pass descriptor \(fd) to CRIU: \(reason)"
        case .pidFileUnreadable(let path, let content):
            return "CRIU restored but its pidfile \(path) holds no PID (\(content.isEmpty ? "empty" : "\"\(content)\""))"
        }
    }
}
