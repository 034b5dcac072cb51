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
    /// The container engine restores and rollbacks talk to, whatever the settings say. Tests
    /// put a recording double here.
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

    /// The engine new restores and checkpoints use: the override, else the settings' choice
    /// (`auto`: native when this host's CRIU can do what it needs, see `resolvedEngineKind`).
    func containerEngine() async throws -> any ContainerEngine {
        if let engineOverride { return engineOverride }
        return try containerEngine(await resolvedEngineKind())
    }

    /// The engine of `kind` (the override when one is set, for tests).
    func containerEngine(_ kind: EngineKind) throws -> any ContainerEngine {
        if let engineOverride { return engineOverride }
        switch kind {
        case .runc: return try runtime()
        case .native: return try nativeEngine()
        }
    }

    /// The engine that owns `record`'s running tree: the one that restored or started it.
    func containerEngine(for record: ContainerRecord) throws -> any ContainerEngine {
        try containerEngine(record.engine ?? .runc)
    }

    func nativeEngine() throws -> NativeEngine {
        guard let criuPath = settings.criuPath else {
            throw EngineError.toolMissing(name: "criu", fix: "install CRIU ≥ 3.19 (contrib/provision.sh), pass --criu PATH, or use --engine runc")
        }
        return NativeEngine(criu: CRIUDriver(criuPath: criuPath, runner: runner), stateRoot: settings.nativeStateRoot,
                            cgroups: try cgroups(), cgroupYardRoot: settings.cgroupYardRoot)
    }

    /// `engine = auto` picks native when CRIU is at least 3.19 (`--network-lock skip`,
    /// external net/pid namespaces, `--join-ns`), runc otherwise; runc and native are taken as said.
    func resolvedEngineKind() async -> EngineKind {
        switch settings.enginePreference {
        case .runc: return .runc
        case .native: return .native
        case .auto:
            guard NativeEngine.isDefault else { return .runc }
            return (await criuVersionNumber() ?? 0) >= NativeEngine.minimumCRIUVersion ? .native : .runc
        }
    }

    func runtime() throws -> RuncDriver {
        RuncDriver(runtimePath: try settings.requireRuntime(), stateRoot: settings.runtimeStateRoot,
                   criuPath: settings.criuPath, runner: runner)
    }
}
