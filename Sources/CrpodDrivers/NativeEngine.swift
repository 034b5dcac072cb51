#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodLinux
import SystemPackage

/// The native engine: crpod execs CRIU itself (`CRIUDriver`) and owns the restored process
/// tree. Its state of a container is one file, `<stateRoot>/<id>/state.json`: the init's
/// identity (pid + start time, so a recycled pid is never mistaken for it), the bundle and the
/// cgroup. The cgroup is the container's boundary: `kill(all:)` and `delete(force:)` act on
/// every process in it (v2 `cgroup.kill` where the kernel has it).
public struct NativeEngine: ContainerEngine {
    public let criu: CRIUDriver
    /// Where the state files live (under crpod's run root: gone after a reboot, as runc's).
    public let stateRoot: String
    public let cgroups: CgroupSet

    public var kind: EngineKind { .native }

    /// CRIU 3.19: `--network-lock skip`; external net/pid namespaces and `--join-ns` are older.
    public static let minimumCRIUVersion = 31900
    /// Whether `engine = auto` may pick this engine (it passes the whole privileged suite).
    public static let isDefault = true

    /// Where the cgroup yards for CRIU are made (`CRIUCgroupYard`).
    public let cgroupYardRoot: String

    public init(criu: CRIUDriver, stateRoot: String, cgroups: CgroupSet, cgroupYardRoot: String? = nil) {
        self.criu = criu
        self.stateRoot = stateRoot
        self.cgroups = cgroups
        self.cgroupYardRoot = cgroupYardRoot ?? Files.parent(of: stateRoot) + "/cgroup-yard"
    }

    func stateDirectory(_ id: String) -> String { stateRoot + "/" + id }

    /// The bundle's config.json (what both the dump and the restore are decided from).
    static func bundleSpec(_ bundle: String) throws -> OCISpec {
        let path = bundle + "/config.json"
        return try OCISpec(data: Data(Files.read(path, limit: 16 << 20)), context: path)
    }
    func statePath(_ id: String) -> String { stateDirectory(id) + "/state.json" }

    // MARK: - State

    /// The recorded state of `id`, nil when the engine has none. A state file that cannot be
    /// read is an error naming the file (never silently "not found": the tree may still run).
    public func recordedState(id: String) throws -> NativeContainerState? {
        let path = statePath(id)
        guard Files.exists(path) else { return nil }
        do {
            return try JSONDecoder().decode(NativeContainerState.self, from: Data(try Files.read(path, limit: 1 << 20)))
        } catch {
            throw NativeEngineError.stateUnreadable(path: path, detail: "\(error)")
        }
    }

    /// Records `state` (atomically: a crash leaves the old file or the new one).
    public func record(_ state: NativeContainerState) throws {
        do {
            try Files.makeDirectories(stateDirectory(state.id), mode: 0o700)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try Files.writeAtomically(statePath(state.id), Array(try encoder.encode(state)), mode: 0o600)
        } catch {
            throw NativeEngineError.stateUnwritable(path: statePath(state.id), detail: "\(error)")
        }
    }

    public func state(id: String, logPath: String? = nil) async throws -> RuntimeState? {
        guard let recorded = try recordedState(id: id) else { return nil }
        let running = recorded.initProcess.isAlive()
        return RuntimeState(ociVersion: "1.0.2", id: id, pid: running ? Int(recorded.initProcess.pid) : 0,
                            status: running ? .running : .stopped, bundle: recorded.bundle, rootfs: recorded.rootfs,
                            created: recorded.created, annotations: [:], owner: "root")
    }

    // MARK: - Signals and removal

    /// Signals the init through a pidfd (never a recycled pid); `all`: every process in the
    /// container's cgroup.
    public func kill(id: String, signal: Int32, all: Bool, logPath: String? = nil) async throws {
        guard let recorded = try recordedState(id: id) else { throw NativeEngineError.notFound(id: id) }
        if all {
            for pid in cgroups.processes(recorded.cgroupPath) { _ = Glibc.kill(pid, signal) }
        }
        guard recorded.initProcess.isAlive() else {
            if all { return }
            throw NativeEngineError.notRunning(id: id)
        }
        try Processes.signal(recorded.initProcess, signal)
    }

    /// Removes the state; `force` first kills every process in the container's cgroup. A live
    /// container without `force` is refused.
    public func delete(id: String, force: Bool, logPath: String? = nil) async throws {
        guard let recorded = try recordedState(id: id) else { return }
        if recorded.initProcess.isAlive() || !cgroups.processes(recorded.cgroupPath).isEmpty {
            guard force else { throw NativeEngineError.running(id: id) }
            try cgroups.kill(recorded.cgroupPath)
        }
        try Files.removeTree(stateDirectory(id))
    }
}

/// What the native engine records of a container it restored.
public struct NativeContainerState: Codable, Sendable, Equatable {
    public var id: String
    /// The restored tree's root task (CRIU's pidfile), with its start time.
    public var initProcess: ProcessIdentity
    public var bundle: String
    /// The root the tree runs in (CRIU's `--root`).
    public var rootfs: String
    public var cgroupPath: String
    public var created: String

    public init(id: String, initProcess: ProcessIdentity, bundle: String, rootfs: String, cgroupPath: String, created: String) {
        self.id = id
        self.initProcess = initProcess
        self.bundle = bundle
        self.rootfs = rootfs
        self.cgroupPath = cgroupPath
        self.created = created
    }
}

/// Failures of the native engine that are not a CRIU run failing (those are `DriverError`).
public enum NativeEngineError: Error, CustomStringConvertible, Sendable, Equatable {
    case notFound(id: String)
    case notRunning(id: String)
    case running(id: String)
    case stateUnreadable(path: String, detail: String)
    case stateUnwritable(path: String, detail: String)
    /// The bundle's config.json or the images ask for something the engine cannot provide.
    case unsupported(id: String, what: String)
    /// Tasks of the container were still alive after a dump that stops it: they left the tree
    /// CRIU walked, so the checkpoint lacks them (they were killed).
    case dumpIncomplete(id: String, pids: [Int32])
    /// Tasks of the container's cgroup are outside its init's process tree (reparented to the
    /// pod's init): CRIU would not dump them, so the checkpoint is refused before it starts.
    case tasksOutsideTree(id: String, pids: [Int32])

    public var description: String {
        switch self {
        case .notFound(let id): return "native engine: container \(id) does not exist"
        case .notRunning(let id): return "native engine: container \(id) is not running"
        case .running(let id): return "native engine: container \(id) is still running (stop it first, or force)"
        case .stateUnreadable(let path, let detail): return "native engine: cannot read the state file \(path): \(detail)"
        case .stateUnwritable(let path, let detail): return "native engine: cannot write the state file \(path): \(detail)"
        case .unsupported(let id, let what): return "native engine: cannot handle container \(id): \(what)"
        case .dumpIncomplete(let id, let pids):
            return "native engine: the checkpoint of \(id) is incomplete: tasks \(pids.map(String.init).joined(separator: ", ")) left its process tree during the dump (they were killed; checkpoint again once the container's tasks stay in its tree)"
        case .tasksOutsideTree(let id, let pids):
            return "native engine: cannot checkpoint \(id): tasks \(pids.map(String.init).joined(separator: ", ")) of its cgroup are outside its init's process tree (their parent exited and the pod's init adopted them), so CRIU would not dump them; the container was left running"
        }
    }
}
