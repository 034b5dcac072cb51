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
