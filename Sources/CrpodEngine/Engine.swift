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
    /// The container engine restores and rollbacks talk to; nil: runc (`runtime()`). Tests put
    /// a recording double here; a native CRIU engine would be chosen here too.
    var engineOverride: (any ContainerEngine)? = nil

    public init(settings: EngineSettings, logger: Logger = Logger(label: "crpod")) {
        self.settings = settings
        self.store = StateStore(root: settings.root, runRoot: settings.runRoot)
        self.runner = ToolRunner()
        self.logger = logger
    }

    func cgroups() throws -> CgroupSet {
        try step("read cgroup layout") { CgroupSet(layout: try CgroupLayout.current()) }
    }

    /// The engine behind `ContainerEngine` (runc unless overridden).
    func containerEngine() throws -> any ContainerEngine {
        if let engineOverride { return engineOverride }
        return try runtime()
    }

    func runtime() throws -> RuncDriver {
        RuncDriver(runtimePath: try settings.requireRuntime(), stateRoot: settings.runtimeStateRoot,
                   criuPath: settings.criuPath, runner: runner)
    }
}
