#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodEngine
import CrpodLinux
import Logging
import Synchronization

/// `crpod daemon`: reconciles, serves the API, restores the boot list, runs the spool; SIGHUP
/// reloads the config (API access and restore policy), cancellation stops it after in-flight
/// jobs finish.
public final class Daemon: Sendable {
    let engine: Engine
    let configPath: String?
    let socketOverride: String?
    let watchOverride: [SpoolDirectory]
    let config: Mutex<DaemonConfig>
    let metrics = Metrics()
    let notify: @Sendable ([Systemd.NotifyState]) -> Void

    public init(engine: Engine, configPath: String?, socket: String?, watch: [SpoolDirectory],
                notify: @escaping @Sendable ([Systemd.NotifyState]) -> Void = { _ = try? Systemd.notify($0) }) throws {
        self.engine = engine
        self.configPath = configPath
        self.socketOverride = socket
        self.watchOverride = watch
        self.notify = notify
        self.config = Mutex(try Self.loadConfig(engine: engine, path: configPath, socket: socket, watch: watch))
    }

    static func loadConfig(engine: Engine, path: String?, socket: String?, watch: [SpoolDirectory]) throws -> DaemonConfig {
        var config = try DaemonConfig.load(try ConfigFile.load(path: path), settings: engine.settings)
        if let socket { config.socketPath = socket }
        if !watch.isEmpty { config.watch = watch }
        return config
    }

    /// SIGHUP: the API's access rules (api_dir, socket_group, allow_registry) and the restore
    /// policy take the file's new values.
    /// (Socket, spool directories and job limits need a restart.)
    public func reload() {
        notify([.reloading])
        do {
            let fresh = try Self.loadConfig(engine: engine, path: configPath, socket: socketOverride, watch: watchOverride)
            config.withLock { current in
                current.apiDirectories = fresh.apiDirectories
                current.policy = fresh.policy
                current.socketGroup = fresh.socketGroup
                current.allowedRegistries = fresh.allowedRegistries
            }
            engine.logger.notice("configuration reloaded")
            warnAboutPolicy(fresh)
            notify([.status("configuration reloaded"), .ready])
        } catch {
            engine.logger.error("configuration not reloaded", metadata: ["error": "\(error)"])
            notify([.status("reload failed: \(error)"), .ready])
        }
    }

    /// Runs until cancelled.
    public func run() async throws {
        let settings = config.withLock { $0 }
        let report = try await engine.reconcile()
        for line in report.undone { engine.logger.warning("reconciled: \(line)") }
        warnAboutPolicy(settings)
        for directory in settings.watch { try Files.makeDirectories(directory.path, mode: 0o700) }
        let jobs = JobRegistry(maxConcurrent: settings.maxJobs, maxQueued: settings.maxQueued)
        let spool = SpoolService(engine: engine, directories: settings.watch, podMap: settings.podMap,
                                 restore: { request in try await self.restoreAsJob(request, jobs: jobs, kind: "spool-restore") },
                                 restorePod: { request in try await self.restorePodAsJob(request, jobs: jobs) },
                                 onHandled: { [metrics] result in
                                     metrics.spoolHandled(result: result.duplicateOf != nil ? "duplicate" : result.error == nil ? "done" : "failed")
                                 })
        let router = APIRouter(client: LocalClient(engine: engine), jobs: jobs, metrics: metrics,
                               access: { self.config.withLock { $0.access } }, spoolDepth: { spool.depth() })
        let activated = Systemd.listenFDs().first
        let target: ListenTarget = activated.map { .descriptor($0) } ?? .path(settings.socketPath, mode: settings.socketMode, group: settings.socketGroup)
        let server = try await APIServer.start(target, api: router, limits: settings.limits)
        let listening = activated.map { "socket-activated fd \($0)" } ?? settings.socketPath
        engine.logger.info("listening on \(listening); spool: \(settings.watch.map(\.path).joined(separator: ", ")); allowed rootfs: \(settings.policy.allowedRootfs.isEmpty ? "none" : settings.policy.allowedRootfs.joined(separator: ", "))")
        notify([.status("API on \(listening)")])
        do {
            await restoreBootList(settings, jobs: jobs)
            try await spool.run(ready: { [notify] in
                notify([.status("API on \(listening); watching \(settings.watch.map(\.path).joined(separator: ", "))"), .ready])
            })
        } catch is CancellationError {}
        notify([.stopping, .status("stopping: finishing in-flight jobs")])
        await server.close()
        await drain(jobs)
    }

    func warnAboutPolicy(_ settings: DaemonConfig) {
        for warning in settings.policyWarnings(configPath: configPath ?? ConfigFile.defaultPath) { engine.logger.warning("\(warning)") }
    }

    /// A restore through the job queue (bounded, limited), with the current policy and metrics.
    func restoreAsJob(_ request: RestoreRequest, jobs: JobRegistry, kind: String) async throws -> RestoreOutcome {
        var request = request
        request.policy = config.withLock { $0.policy }
        let engine = self.engine
        let id = try await jobs.submitRestore(request, kind: kind, metrics: metrics) { try await engine.restore($0) }
        return try await outcome(of: id, jobs: jobs)
    }

    /// A spooled whole-pod archive restored through the job queue, with the current policy.
    func restorePodAsJob(_ request: PodRestoreRequest, jobs: JobRegistry, kind: String = "spool-pod-restore") async throws -> PodRestoreOutcome {
        var request = request
        request.policy = config.withLock { $0.policy }
        let engine = self.engine, call = request
        let id = try await jobs.submit(kind: kind, description: request.importPath) { progress in
            await progress.report("restoring pod")
            return try await engine.restorePod(call)
        }
        return try await outcome(of: id, jobs: jobs)
    }

    /// Waits for job `id` and decodes its result; its failure is thrown.
    func outcome<T: Decodable>(of id: String, jobs: JobRegistry) async throws -> T {
        let job = try await jobs.wait(id)
        if let failure = await jobs.failure(id) { throw failure }
        guard job.state == .succeeded, let result = job.result, let outcome = try? JSONDecoder().decode(T.self, from: Data(result.utf8)) else {
            throw DaemonError.jobFailed(job.error ?? "job \(id) failed")
        }
        return outcome
    }

    /// Waits (up to 5 minutes) for running and queued jobs: they finish or roll back themselves.
    func drain(_ jobs: JobRegistry) async {
        for _ in 0..<3000 {
            if await jobs.inFlight == 0 { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
        engine.logger.error("jobs still running at exit; the next start reconciles them")
    }
}

public enum DaemonError: Error, CustomStringConvertible {
    case jobFailed(String)
    public var description: String {
        switch self {
        case let .jobFailed(message): return message
        }
    }
}
