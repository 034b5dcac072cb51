#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux

/// A long-running child of the test process (a daemon, a registry, a token server, a background
/// CLI) started with posix_spawn and reaped by pid — not Foundation's `Process`.
///
/// Why: Foundation's `Process` learns of every child's exit on one shared manager thread, from
/// the end of a socket pair the child inherits; when that end closes, the thread calls a
/// *blocking* `waitpid` for that child. `systemd-socket-activate` closes every descriptor it
/// does not pass on before it execs crpod, so the manager thread blocked until that daemon
/// exited, no other `Process` exit was delivered meanwhile, and a CI run deadlocked (the
/// socket-activation test could not stop its daemon while the pool's threads waited on
/// registry processes). Here each wait is on a pid of its own, on a thread of its own.
final class ChildProcess: @unchecked Sendable {
    let pid: Int32
    private let lock = NSLock()
    private var waitStatus: Int32?

    var processIdentifier: Int32 { pid }

    /// `output`: a file for stdout and stderr (appended, created if missing); nil: /dev/null.
    /// The child gets default signal dispositions, an empty signal mask and only fds 0–2.
    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
         output: String? = nil, errorOutput: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        let appendFlags = O_WRONLY | O_CREAT | O_APPEND
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", appendFlags, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorOutput ?? output ?? "/dev/null", appendFlags, 0o644)
        _ = spawnAddCloseFrom(&actions, 3)  // no descriptor of the test process leaks into the child
        var noSignals = sigset_t()
        var allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let variables = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw ChildProcessError(description: "posix_spawn \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Whether the child still runs (a child that has exited is reaped here).
    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return reapIfExited() == nil
    }

    /// Its exit code, or the signal that killed it (like `Process.terminationStatus`); -1 while it runs.
    var terminationStatus: Int32 {
        guard let status = finalStatus else { return -1 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    /// Whether a signal ended it.
    var killedBySignal: Bool {
        guard let status = finalStatus else { return false }
        return status & 0x7f != 0 && status & 0x7f != 0x7f
    }

    private var finalStatus: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return reapIfExited()
    }

    /// The raw wait status once the child has exited; reaps it then (caller holds the lock).
    private func reapIfExited() -> Int32? {
        if let waitStatus { return waitStatus }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        waitStatus = status
        return status
    }

    /// Blocks until the child has exited (waitid with WNOWAIT, then reaped under the lock).
    /// Never call this on the cooperative pool: use `exited()`.
    func waitBlocking() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
        _ = isRunning
    }

    /// Waits on a thread of its own until the child has exited.
    func exited() async {
        _ = try? await BlockingThread.run("wait for pid \(pid)") { _ in self.waitBlocking() }
    }

    /// SIGKILL and wait.
    func kill() async {
        if isRunning { Glibc.kill(pid, SIGKILL) }
        await exited()
    }

    /// SIGKILL and reap right here: a killed process exits within the kernel's own time, so
    /// this may run in a `defer` of an async test (nothing else may block a pool thread).
    func killAndReap() {
        guard isRunning else { return }
        Glibc.kill(pid, SIGKILL)
        waitBlocking()
    }

    deinit {
        if isRunning { Glibc.kill(pid, SIGKILL) }
    }
}

/// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, which the Glibc module does not
/// export (it is declared under `__USE_MISC` only).
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnAddCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32

struct ChildProcessError: Error, CustomStringConvertible { let description: String }
