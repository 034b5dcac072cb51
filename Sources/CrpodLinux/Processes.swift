#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodCore
import SystemPackage

/// A process identified by pid and start time, so a recycled pid is never mistaken for it.
public struct ProcessIdentity: Sendable, Equatable, Codable {
    public let pid: Int32
    public let startTime: UInt64
    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    public static func of(pid: Int32, procRoot: String = "/proc") throws(LinuxError) -> ProcessIdentity {
        let stat = try ProcStat.parse(Files.readText("\(procRoot)/\(pid)/stat"), file: "\(procRoot)/\(pid)/stat")
        return ProcessIdentity(pid: pid, startTime: stat.startTime)
    }

    /// True while this very process exists and is not a zombie.
    public func isAlive(procRoot: String = "/proc") -> Bool {
        guard let stat = Processes.runningStat(pid, procRoot: procRoot) else { return false }
        return stat.startTime == startTime
    }
}

/// Process control through pidfds: no signal can reach a recycled pid.
public enum Processes {
    /// The stat of `pid` while it exists and is neither a zombie nor dead; nil otherwise.
    public static func runningStat(_ pid: Int32, procRoot: String = "/proc") -> ProcStat? {
        guard let text = try? Files.readText("\(procRoot)/\(pid)/stat"),
              let stat = try? ProcStat.parse(text), !stat.isZombieOrDead else { return nil }
        return stat
    }

    /// Waits up to `seconds` until `pid` is gone or a zombie (one nobody reaps: PID 1 may not
    /// reap orphans); true when it got there.
    public static func waitUntilNotRunning(_ pid: Int32, seconds: Double, procRoot: String = "/proc") -> Bool {
        let deadline = Systemd.monotonicMicroseconds() + UInt64(seconds * 1_000_000)
        while isRunning(pid, procRoot: procRoot) {
            guard Systemd.monotonicMicroseconds() < deadline else { return false }
            usleep(50_000)
        }
        return true
    }

    /// Whether `pid` exists and is neither a zombie nor dead.
    public static func isRunning(_ pid: Int32, procRoot: String = "/proc") -> Bool { runningStat(pid, procRoot: procRoot) != nil }

    /// Sends `signal` to the process if it is still the same one.
    public static func signal(_ identity: ProcessIdentity, _ signal: Int32) throws(LinuxError) {
        let fd = try shimCall("pidfd_open", path: "/proc/\(identity.pid)") { crpod_pidfd_open(identity.pid) }
        defer { close(fd) }
        guard identity.isAlive() else { return }
        try shimCall("pidfd_send_signal", path: "/proc/\(identity.pid)") { crpod_pidfd_send_signal(fd, signal) }
    }

    /// Waits until the process has exited (or is a zombie), polling its pidfd.
    /// Returns false when `seconds` pass first.
    public static func waitForExit(_ identity: ProcessIdentity, seconds: Double) -> Bool {
        let fd = crpod_pidfd_open(identity.pid)
        if fd < 0 { return true }
        defer { close(fd) }
        var remaining = Int32(seconds * 1000)
        while remaining > 0 {
            guard identity.isAlive() else { return true }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let step = min(remaining, 50)
            if poll(&entry, 1, step) > 0 { return true }
            remaining -= step
        }
        return !identity.isAlive()
    }

    /// SIGTERM, wait up to `grace` seconds, then SIGKILL and wait again.
    public static func terminate(_ identity: ProcessIdentity, grace: Double) throws(LinuxError) {
        guard identity.isAlive() else { return }
        try signal(identity, SIGTERM)
        if waitForExit(identity, seconds: grace) { return }
        try signal(identity, SIGKILL)
        if !waitForExit(identity, seconds: 5) {
            throw LinuxError.timedOut(operation: "kill", path: "/proc/\(identity.pid)", seconds: 5)
        }
    }
}

extension Processes {
    /// Pids (other than this process) one of whose command-line arguments is exactly `argument`.
    public static func pids(withArgument argument: String, procRoot: String = "/proc") -> [Int32] {
        let me = getpid()
        guard let entries = try? Files.listDirectory(procRoot) else { return [] }
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != me, let bytes = try? Files.read("\(procRoot)/\(pid)/cmdline", limit: 1 << 16) else { return false }
            return bytes.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
        }
    }

    /// Pids (other than this process) one of whose command-line arguments contains `text`.
    public static func pids(withArgumentContaining text: String, procRoot: String = "/proc") -> [Int32] {
        let me = getpid()
        guard let entries = try? Files.listDirectory(procRoot) else { return [] }
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != me, let bytes = try? Files.read("\(procRoot)/\(pid)/cmdline", limit: 1 << 16) else { return false }
            return bytes.split(separator: 0).contains { String(decoding: $0, as: UTF8.self).contains(text) }
        }
    }

    /// SIGKILLs every process working on `id` — one of its arguments contains it: runc names the
    /// container, CRIU (and the shell that starts it) has it in its cgroup roots and paths — and
    /// waits up to 5 s for them to go. crpod's own executable is spared (another crpod command
    /// may name the id). Blocking: call it from a thread of its own.
    public static func killAll(commandLineContaining id: String) {
        let crpod = Files.readLink("/proc/self/exe")
        for _ in 0..<100 {
            let pids = pids(withArgumentContaining: id).filter { crpod == nil || Files.readLink("/proc/\($0)/exe") != crpod }
            if pids.isEmpty { return }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(50_000)
        }
    }
}

/// A namespace of a process: its /proc path and inode.
public struct NamespaceRef: Sendable, Equatable, Codable {
    public let kind: NamespaceKind
    public let path: String
    public let inode: UInt64

    public static func of(pid: Int32, kind: NamespaceKind, procRoot: String = "/proc") throws(LinuxError) -> NamespaceRef {
        let path = kind.procPath(pid: pid, procRoot: procRoot)
        var info = stat()
        try sysCall("stat", path: path) { stat(path, &info) }
        return NamespaceRef(kind: kind, path: path, inode: UInt64(info.st_ino))
    }

    /// Every known namespace of a process (kinds the kernel lacks are left out).
    public static func all(pid: Int32, procRoot: String = "/proc") throws(LinuxError) -> [NamespaceRef] {
        var refs: [NamespaceRef] = []
        for kind in NamespaceKind.known {
            do { refs.append(try of(pid: pid, kind: kind, procRoot: procRoot)) } catch {
                if error.errno == .noSuchFileOrDirectory && Files.exists("\(procRoot)/\(pid)") { continue }
                throw error
            }
        }
        return refs
    }
}
