import SystemPackage

/// What crpod's executors need of a container engine: restore a checkpoint, checkpoint a
/// container, delete its state, read its state. `RuncDriver` is the implementation today (runc
/// runs CRIU for crpod); a native CRIU engine (`CRIUDriver` drives `criu` itself) is meant to
/// plug in here: it takes the same `RestoreOptions` decisions (images, work dir, bundle, pid
/// file, cgroup mode, LSM labels, time limit) and must leave nothing behind on `delete`.
/// Tests record the calls with a double, so the restore path runs without root.
public protocol ContainerEngine: Sendable {
    /// Restores `id` from `options.imagePath`, detached; the container's stdout and stderr go to
    /// `stdio`. Throws `DriverError` on failure (the engine's log excerpt in its tail).
    func restore(id: String, options: RestoreOptions, stdio: FileDescriptor?, logPath: String) async throws
    /// Dumps `id` into `options.imagePath` (stopping it unless `leaveRunning`).
    func checkpoint(id: String, options: CheckpointOptions, logPath: String?) async throws
    /// Removes the engine's state of `id` (`force`: kill what still runs).
    func delete(id: String, force: Bool, logPath: String?) async throws
    /// The engine's view of `id`; nil when it does not know it.
    func state(id: String, logPath: String?) async throws -> RuntimeState?
}

extension RuncDriver: ContainerEngine {}
