#if canImport(Glibc)
import Glibc
#endif

/// Fault injection for the reliability tests (in the Linux layer so the drivers reach it too): when CRPOD_FAULT names a point, crpod SIGKILLs
/// itself there — the same as a crash or `kill -9` at exactly that step. Without the variable
/// this is one getenv per step.
public enum FaultPoint: String, CaseIterable, Sendable {
    case podAfterCgroup = "pod-after-cgroup"
    case podAfterInfra = "pod-after-infra"
    /// The pod's /dev/shm tmpfs mounted, before its network.
    case podAfterShm = "pod-after-shm"
    /// After the first CNI plugin's ADD (and its result journaled), before the next plugin.
    case podDuringNetwork = "pod-during-network"
    case podAfterNetwork = "pod-after-network"
    case runAfterCreate = "run-after-create"
    case restoreAfterExtract = "restore-after-extract"
    case restoreAfterRootfs = "restore-after-rootfs"
    case restoreBeforeRuntime = "restore-before-runtime"
    case restoreAfterRuntime = "restore-after-runtime"
    case checkpointAfterTmpfs = "checkpoint-after-tmpfs"
    case checkpointAfterDump = "checkpoint-after-dump"
    case exportAfterTemp = "export-after-temp"
    /// A whole-pod checkpoint with every member frozen, before the first dump.
    case podCheckpointAfterFreeze = "pod-checkpoint-after-freeze"
    /// Native engine: CRIU left a member's tasks stopped (`--leave-stopped`), before the SysV
    /// segments are attached in them and they continue.
    case restoreTasksStopped = "restore-tasks-stopped"
    /// A whole-pod restore with every member restored (stopped, native engine), before they resume.
    case podRestoreBeforeResume = "pod-restore-before-resume"

    public func hit() {
        guard let value = getenv("CRPOD_FAULT"), String(cString: value) == rawValue else { return }
        kill(getpid(), SIGKILL)
    }
}
