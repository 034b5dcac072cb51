#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// Which engine runs CRIU for a container: `runc` (runc runs CRIU for crpod) or `native` (crpod
/// execs CRIU itself, `NativeEngine`). Records name the engine that restored them.
public enum EngineKind: String, Codable, Sendable, CaseIterable {
    case runc
    case native
}

/// What crpod's executors need of a container engine: restore a checkpoint, checkpoint a
/// container, signal it, delete its state, read its state. `RuncDriver` runs CRIU through runc;
/// `NativeEngine` runs CRIU itself. Both take the same `RestoreOptions` decisions (images, work
/// dir, bundle, pid file, cgroup mode, LSM labels, time limit) and leave nothing behind on
/// `delete`. Tests record the calls with a double, so the restore path runs without root.
public protocol ContainerEngine: Sendable {
    var kind: EngineKind { get }
    /// Restores `id` from `options.imagePath`, detached; the container's stdout and stderr go to
    /// `stdio`. Throws `DriverError` on failure (the engine's log excerpt in its tail).
    func restore(id: String, options: RestoreOptions, stdio: FileDescriptor?, logPath: String) async throws
    /// Dumps `id` into `options.imagePath` (stopping it unless `leaveRunning`).
    func checkpoint(id: String, options: CheckpointOptions, logPath: String?) async throws
    /// Signals the container's init, or every process of it (`all`).
    func kill(id: String, signal: Int32, all: Bool, logPath: String?) async throws
    /// Removes the engine's state of `id` (`force`: kill what still runs).
    func delete(id: String, force: Bool, logPath: String?) async throws
    /// The engine's view of `id`; nil when it does not know it.
    func state(id: String, logPath: String?) async throws -> RuntimeState?
}

extension RuncDriver: ContainerEngine {
    public var kind: EngineKind { .runc }
}
