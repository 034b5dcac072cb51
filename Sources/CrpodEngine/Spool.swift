#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux

/// A watched spool directory and the pod its archives go into when no sidecar says otherwise.
public struct SpoolDirectory: Sendable, Equatable {
    public var path: String
    public var defaultPod: String?
    public init(path: String, defaultPod: String? = nil) {
        self.path = path
        self.defaultPod = defaultPod
    }

    /// `DIR` or `DIR:POD`.
    public init(argument: String) {
        let parts = argument.split(separator: ":", maxSplits: 1).map(String.init)
        self.init(path: parts[0], defaultPod: parts.count == 2 ? parts[1] : nil)
    }
}

/// What happened to one spooled archive; written next to it in done/ or failed/.
public struct SpoolResult: Codable, Sendable, Equatable {
    public var archive: String
    public var sha256: String
    public var pod: String?
    public var container: String?
    public var containerID: String?
    public var error: String?
    public var duplicateOf: String?
    public var finishedAt: String
}

/// How the spool restores an archive (the daemon routes it through its job queue, which also
/// applies the restore policy).
public typealias SpoolRestore = @Sendable (RestoreRequest) async throws -> RestoreOutcome

/// Auto-restore: an archive that appears fully written in a spool directory is restored into
/// its pod, then moved to `done/` (or `failed/`) with a JSON result beside it. Never deleted,
/// never restored twice: archives are deduplicated by SHA-256 across restarts.
///
/// Target pod, first match: a `<archive>.target` sidecar holding the pod name; the directory's
/// default pod; the pod map (archive's pod name → pod); a pod named like the archive's own pod.
///
/// Crash safety: an archive is renamed into `processing/` before its restore starts. At start-up
/// whatever is still there is settled: if its restore completed (ledger or container present)
/// it moves to done/, else — the engine having rolled the half-done restore back — it is
/// restored again. So each archive is handled exactly once, whatever was killed when.
public actor SpoolService {
    let engine: Engine
    let directories: [SpoolDirectory]
    let podMap: [String: String]
    let restore: SpoolRestore
    let onHandled: @Sendable (SpoolResult) -> Void
    var processed: [String: String]
    static let filter = SpoolFilter(temporarySuffixes: [".part", ".target", ".result.json"])

    public init(engine: Engine, directories: [SpoolDirectory], podMap: [String: String] = [:],
                restore: SpoolRestore? = nil, onHandled: @escaping @Sendable (SpoolResult) -> Void = { _ in }) {
        self.engine = engine
        self.directories = directories
        self.podMap = podMap
        self.restore = restore ?? { request in try await engine.restore(request) }
        self.onHandled = onHandled
        self.processed = SpoolService.loadProcessed(engine.store.root)
    }

    static func ledgerPath(_ root: String) -> String { root + "/spool-processed.json" }

    static func loadProcessed(_ root: String) -> [String: String] {
        guard let bytes = try? Files.read(ledgerPath(root)) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: Data(bytes))) ?? [:]
    }

    /// Archives waiting in the watched directories (the spool depth metric).
    public nonisolated func depth() -> Int {
        directories.reduce(0) { sum, directory in
            sum + ((try? DirectoryWatcher.scan(directory.path, filter: Self.filter).count) ?? 0)
                + ((try? DirectoryWatcher.scan(directory.path + "/processing", filter: Self.filter).count) ?? 0)
        }
    }

    /// Settles interrupted work, handles what is already there, then every file that becomes
    /// ready, until cancelled.
    public func run(ready: @Sendable () -> Void = {}) async throws {
        for directory in directories {
            for sub in ["done", "failed", "processing"] { try Files.makeDirectories(directory.path + "/" + sub, mode: 0o700) }
        }
        let watcher = try DirectoryWatcher(directories: directories.map(\.path), filter: Self.filter)
        defer { watcher.stop() }
        try await recoverInterrupted()
        try await rescan()
        ready()
        for await event in watcher.events {
            if Task.isCancelled { break }
            switch event {
            case let .fileReady(directory, name): await handle(directory: directory, name: name)
            case .overflow: try await rescan()
            case .directoryGone: break
            }
        }
    }

    func rescan() async throws {
        for directory in directories {
            for name in try DirectoryWatcher.scan(directory.path, filter: Self.filter) {
                await handle(directory: directory.path, name: name)
            }
        }
    }

    /// Archives left in processing/ by a daemon that died mid-restore.
    func recoverInterrupted() async throws {
        for directory in directories {
            let processing = directory.path + "/processing"
            for name in try DirectoryWatcher.scan(processing, filter: Self.filter) {
                engine.logger.warning("spool archive was interrupted; settling it", metadata: ["archive": "\(processing)/\(name)"])
                await process(directory: directory, name: name, recovering: true)
            }
        }
    }

    func handle(directory: String, name: String) async {
        let path = directory + "/" + name
        guard Files.exists(path), let spool = directories.first(where: { $0.path == directory }) else { return }
        let processing = directory + "/processing/" + name
        if Files.exists(path + ".target") { _ = rename(path + ".target", processing + ".target") }
        guard rename(path, processing) == 0 else {
            engine.logger.error("cannot move spool archive to processing/", metadata: ["archive": "\(path)"])
            return
        }
        await process(directory: spool, name: name, recovering: false)
    }

    /// Restores `processing/<name>` unless it is a duplicate or (when recovering) already done.
    func process(directory spool: SpoolDirectory, name: String, recovering: Bool) async {
        let path = spool.path + "/processing/" + name
        let sha = (try? SHA256Hasher.hash(file: path)) ?? ""
        let containerName = Self.containerName(for: name, sha: sha)
        var result = SpoolResult(archive: name, sha256: sha, pod: nil, container: nil, containerID: nil, error: nil,
                                 duplicateOf: processed[sha], finishedAt: "")
        if sha.isEmpty {
            result.error = "cannot read \(path)"
        } else if recovering, result.duplicateOf == nil, let existing = try? engine.store.container(containerName) {
            (result.pod, result.container, result.containerID) = (existing.podName, existing.name, existing.id)
        } else if result.duplicateOf == nil {
            result.pod = targetPod(for: path, in: spool)
            var request = RestoreRequest(importPath: path)
            request.pod = result.pod
            request.name = containerName
            do {
                let outcome = try await restore(request)
                (result.container, result.containerID) = (outcome.name, outcome.id)
            } catch {
                result.error = "\(error)"
            }
        }
        finish(result, path: path, directory: spool.path, sidecar: path + ".target")
    }

    func targetPod(for path: String, in spool: SpoolDirectory) -> String? {
        if let text = try? Files.readText(path + ".target", limit: 4096) {
            let pod = text.trimmingCharacters(in: " \n\t")
            if !pod.isEmpty { return pod }
        }
        if let pod = spool.defaultPod { return pod }
        let archivePod = (try? ArchiveInspector.inspect(path: path))?.0.podName
        return archivePod.map { podMap[$0] ?? $0 }
    }

    /// The restored container's name: the archive's file name without extensions, plus the
    /// hash prefix, so different archives of one container never collide.
    static func containerName(for archive: String, sha: String) -> String {
        let base = archive.split(separator: ".").first.map(String.init) ?? "restored"
        let safe = String(base.prefix(40).map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        return (safe.first?.isLetter == true || safe.first?.isNumber == true ? safe : "r" + safe) + "-" + sha.prefix(8)
    }

    /// Records the outcome (ledger first), writes the result, then moves the archive (and its
    /// sidecar) from processing/ to done/ or failed/.
    func finish(_ result: SpoolResult, path: String, directory: String, sidecar: String) {
        var result = result
        result.finishedAt = Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let ok = result.error == nil
        let target = directory + "/" + (ok ? "done" : "failed") + "/" + result.archive
        if ok, result.duplicateOf == nil, !result.sha256.isEmpty {
            processed[result.sha256] = result.archive
            if let data = try? JSONEncoder().encode(processed) { try? Files.writeAtomically(Self.ledgerPath(engine.store.root), Array(data)) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(result) { try? Files.writeAtomically(target + ".result.json", Array(data), mode: 0o600) }
        rename(path, target)
        if Files.exists(sidecar) { rename(sidecar, target + ".target") }
        engine.logger.info("spool archive handled", metadata: ["archive": "\(path)", "result": "\(ok ? "done" : "failed")"])
        onHandled(result)
    }
}
