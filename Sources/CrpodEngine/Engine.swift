import CrpodDrivers
import CrpodLinux
import Logging

/// The engine every front end (CLI now, daemon later) drives. Mutations run under the
/// state lock; each operation reads as a list of named steps.
public struct Engine: Sendable {
    public let settings: EngineSettings
    public let store: StateStore
    public let runner: ToolRunner
    public let logger: Logger

    public init(settings: EngineSettings, logger: Logger = Logger(label: "crpod")) {
        self.settings = settings
        self.store = StateStore(root: settings.root, runRoot: settings.runRoot)
        self.runner = ToolRunner()
        self.logger = logger
    }

    func cgroups() throws -> CgroupSet {
        try step("read cgroup layout") { CgroupSet(layout: try CgroupLayout.current()) }
    }

    func runtime() throws -> RuncDriver {
        RuncDriver(runtimePath: try settings.requireRuntime(), stateRoot: settings.runtimeStateRoot,
                   criuPath: settings.criuPath, runner: runner)
    }
}

/// Undo actions collected while a multi-step operation runs; on failure they run in reverse.
final class Rollback: @unchecked Sendable {
    private var actions: [(String, () async -> Void)] = []
    private var successActions: [() async -> Void] = []
    private var committed = false

    func add(_ name: String, _ action: @escaping () async -> Void) { actions.append((name, action)) }
    /// Work to do only when the whole operation succeeded (removing temporary files).
    func onSuccess(_ action: @escaping () async -> Void) { successActions.append(action) }

    func commit() async {
        committed = true
        for action in successActions { await action() }
    }

    func run() async {
        guard !committed else { return }
        for (_, action) in actions.reversed() { await action() }
        actions.removeAll()
    }
}

/// Runs `body` with a rollback that undoes every registered step if `body` throws.
func withRollback<T>(_ body: (Rollback) async throws -> T) async throws -> T {
    let rollback = Rollback()
    do {
        let value = try await body(rollback)
        await rollback.commit()
        return value
    } catch {
        await rollback.run()
        throw error
    }
}
