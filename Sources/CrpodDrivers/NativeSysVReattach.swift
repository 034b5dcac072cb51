#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CrpodCore
import CrpodLinux

/// SysV segments to attach in restored tasks before they run, and the helper that does it.
///
/// Why: in a whole-pod restore one member's CRIU re-creates the pod's segments; CRIU maps a
/// segment only in the restore that created it, so the later members' SysV mappings are taken
/// out of their mm images (`RestoreImageEdit.detachSysVShm`) and attached here instead.
public struct SysVReattach: Sendable, Equatable {
    /// crpod-shmattach (Sources/crpod-shmattach): seizes a stopped task with ptrace and makes
    /// it call shmat(2). A separate process: the daemon never ptraces (tracing is per thread).
    /// Nil when it is not installed beside crpod (the restore then fails, saying so).
    public var helper: String?
    public var attachments: [CRIUSysVAttachment]

    public init(helper: String?, attachments: [CRIUSysVAttachment]) {
        self.helper = helper
        self.attachments = attachments
    }

    /// The helper's arguments for one task (host `pid`): `PID SHMID ADDRESS FLAGS...`.
    public static func arguments(hostPID: Int32, _ attachments: [CRIUSysVAttachment]) -> [String] {
        ["\(hostPID)"] + attachments.flatMap { ["\($0.shmid)", "0x" + String($0.start, radix: 16), "\($0.shmatFlags)"] }
    }
}

extension NativeEngine {
    /// The tasks CRIU left stopped (`--leave-stopped`) get their segments back, then all
    /// continue (unless `resume` is false: the caller resumes them, as a whole-pod restore does). A task is found by its PID inside its namespace (the images' PID, CRIU
    /// restores it) among the cgroup's processes; a missing task or a failed attach fails the
    /// restore (its caller kills the tree).
    func reattachSysVShm(_ reattach: SysVReattach, cgroup: String, id: String, resume: Bool = true) async throws {
        FaultPoint.restoreTasksStopped.hit()
        guard let helper = reattach.helper else {
            throw NativeEngineError.unsupported(id: id, what: "crpod-shmattach, which attaches the pod's SysV shared memory in the restored tasks, is not installed beside crpod")
        }
        let processes = cgroups.processes(cgroup)
        var hostPIDs: [Int32: Int32] = [:]
        for pid in processes {
            guard let status = try? Files.readText("/proc/\(pid)/status"), let inner = PidNamespaces.innermostPID(statusText: status) else { continue }
            hostPIDs[inner] = pid
        }
        for (pid, attachments) in Dictionary(grouping: reattach.attachments, by: \.pid).sorted(by: { $0.key < $1.key }) {
            guard let host = hostPIDs[pid] else {
                throw NativeEngineError.unsupported(id: id, what: "restored task \(pid) (it had SysV shared memory attached) is not in cgroup \(cgroup)")
            }
            let arguments = SysVReattach.arguments(hostPID: host, attachments)
            let result = try await criu.runner.run(helper, arguments, outputLimit: 64 << 10, timeLimit: .seconds(30))
            guard result.succeeded else {
                throw DriverError.toolFailed(tool: "crpod-shmattach", arguments: arguments, status: result.status, stderrTail: result.diagnosticTail())
            }
        }
        if resume { for pid in processes { _ = Glibc.kill(pid, SIGCONT) } }
    }
}
