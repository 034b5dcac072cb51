#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux

/// Undo steps collected while a multi-step operation runs. Each is journaled before it is
/// needed; on failure they run in reverse, on success only the temporaries are undone. The
/// journal entry is covered by a lease while the operation lives, so the entry of an operation
/// working outside the state lock is not mistaken for a dead one's.
final class Rollback: @unchecked Sendable {
    private let undo: @Sendable (UndoStep) async -> Void
    private let journal: Journal
    private let id: String
    private var entry: JournalEntry
    private var successActions: [() async -> Void] = []
    private var lease: FileLease?
    private var finished = false

    init(operation: String, journal: Journal, undo: @escaping @Sendable (UndoStep) async -> Void) {
        self.undo = undo
        self.journal = journal
        self.id = ObjectID.generate().short
        self.entry = JournalEntry(operation: operation, pid: getpid(), started: timestamp(), steps: [], temporaries: [])
    }

    /// Records `step` (on disk first) so a failure — or a crash — undoes it.
    func add(_ step: UndoStep) throws {
        entry.steps.append(step)
        try writeEntry()
    }

    /// Replaces a recorded step with what it has become (on disk first): a CNI DEL that now
    /// knows ADD's result.
    func replace(_ old: UndoStep, with new: UndoStep) throws {
        guard let index = entry.steps.lastIndex(of: old) else { return try add(new) }
        entry.steps[index] = new
        try writeEntry()
    }

    /// Records a temporary that goes away however the operation ends.
    func addTemporary(_ step: UndoStep) throws {
        entry.temporaries.append(step)
        try writeEntry()
    }

    /// Several temporaries with one journal write (each write is an fsynced rename).
    func addTemporaries(_ steps: [UndoStep]) throws {
        entry.temporaries += steps
        try writeEntry()
    }

    private func writeEntry() throws {
        if lease == nil { lease = try journal.lease(id) }
        try journal.write(entry, id: id)
    }

    /// Work to do only when the whole operation succeeded (dropping an in-place checkpoint).
    func onSuccess(_ action: @escaping () async -> Void) { successActions.append(action) }

    func commit() async {
        guard !finished else { return }
        finished = true
        for action in successActions { await action() }
        for step in entry.temporaries.reversed() { await undo(step) }
        close()
    }

    /// Undoes everything registered; a no-op once the operation committed or was rolled back.
    func run() async {
        guard !finished else { return }
        finished = true
        for step in (entry.steps + entry.temporaries).reversed() { await undo(step) }
        close()
    }

    private func close() {
        journal.remove(id)
        lease?.release()
    }
}

extension Engine {
    var journal: Journal { Journal(directory: store.root + "/journal") }

    /// Runs `body` with a journaled rollback that undoes every registered step if `body` throws.
    func withRollback<T>(_ operation: String, _ body: (Rollback) async throws -> T) async throws -> T {
        let rollback = Rollback(operation: operation, journal: journal) { step in await self.undo(step) }
        do {
            let value = try await body(rollback)
            await rollback.commit()
            return value
        } catch {
            await rollback.run()
            throw error
        }
    }

    /// An operation in two stages sharing one journaled rollback: `prepare` runs without the
    /// state lock and may only create what is private to it (a work directory); `apply` runs
    /// under the lock, which is held until what it created is committed or undone, so no other
    /// operation ever sees half of it.
    func withStagedRollback<Prepared, T>(_ operation: String, prepare: (Rollback) async throws -> Prepared,
                                         apply: (Prepared, Rollback) async throws -> T) async throws -> T {
        let rollback = Rollback(operation: operation, journal: journal) { step in await self.undo(step) }
        do {
            let prepared = try await prepare(rollback)
            return try await locked {
                do {
                    let value = try await apply(prepared, rollback)
                    await rollback.commit()
                    return value
                } catch {
                    await rollback.run()
                    throw error
                }
            }
        } catch {
            await rollback.run()
            throw error
        }
    }

    /// Undoes one step, best effort (what is already gone counts as undone).
    func undo(_ step: UndoStep) async {
        switch step {
        case let .removeTree(path): removeTreeWithMounts(path)
        case let .unmount(path): while Mounts.isMountPoint(path) { if (try? Mounts.unmount(path)) == nil { break } }
        case let .removeCgroup(path): removeCgroupKillingMembers(path)
        case let .thawCgroup(path): try? cgroups().v2?.setFrozen(path, false)
        case let .terminate(process): _ = try? await BlockingThread.run("stop pid \(process.pid)") { _ in try Processes.terminate(process, grace: 1) }
        case let .removeCRIUNetworkLock(infra): await removeCRIUNetworkLock(infra: infra)
        case let .cniDelete(attachment, infra, prevResult):
            await deleteAttachment(attachment, infra: infra, prevResult: prevResult)
        case let .deleteRuntime(id, cgroup):
            _ = try? await BlockingThread.run("kill what works on \(id.prefix(12))") { _ in Processes.killAll(commandLineContaining: id) }
            // Either engine may have state of it (a runc container checkpointed natively).
            let engines = engineOverride.map { [$0] } ?? EngineKind.allCases.compactMap { try? containerEngine($0) }
            for engine in engines { try? await engine.delete(id: id, force: true, logPath: nil) }
            removeRuntimeDirectory(id: id)
            removeCgroupKillingMembers(cgroup)
        }
    }

    /// A runtime killed mid-restore leaves `<state root>/<id>` without a state file (so
    /// `delete` does not know the id) and CRIU's `criu-root` bind mount inside it.
    func removeRuntimeDirectory(id: String) {
        guard ObjectID(rawValue: id) != nil else { return }
        let directory = settings.runtimeStateRoot + "/" + id
        guard Files.isDirectory(directory) else { return }
        removeTreeWithMounts(directory)
    }

    /// Removes `directory` after detaching every mount below it, deepest first: a CRIU that
    /// crashed mid-restore leaves its `.criu.cgyard.*` and `criu-root` mounts in the work
    /// directories (seen with 4.2.1), and a tree with mounts in it cannot be removed.
    func removeTreeWithMounts(_ directory: String) {
        let mounts = (try? MountTable.parse(Files.readText("/proc/self/mounts"))) ?? []
        for mount in mounts.reversed() where PathText.isUnder(mount.mountPoint, directory) {
            try? Mounts.unmount(mount.mountPoint)
        }
        try? Files.removeTree(directory)
    }

    func removeCgroupKillingMembers(_ cgroup: String) {
        guard let cgroups = try? cgroups() else { return }
        try? cgroups.kill(cgroup)
        try? cgroups.remove(cgroup)
    }
}
