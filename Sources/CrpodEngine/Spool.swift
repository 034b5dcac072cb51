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
import Logging

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
    /// A whole-pod archive's restored members (`pod` is the new pod), in restore order.
    public var members: [String]?
    public var error: String?
    /// The failure's stable machine code (the API's `code`), e.g. `restore_refused`.
    public var errorCode: String?
    public var duplicateOf: String?
    public var finishedAt = ""

    init(archive: String, sha256: String, duplicateOf: String? = nil, error: (any Error)? = nil) {
        self.archive = archive
        self.sha256 = sha256
        self.duplicateOf = duplicateOf
        if let error { fail(error) }
    }

    mutating func fail(_ error: any Error) {
        self.error = "\(error)"
        errorCode = FailureClass.of(error).code
    }
}

/// How the spool restores an archive (the daemon routes it through its job queue, which also
/// applies the restore policy).
public typealias SpoolRestore = @Sendable (RestoreRequest) async throws -> RestoreOutcome
public typealias SpoolPodRestore = @Sendable (PodRestoreRequest) async throws -> PodRestoreOutcome

/// Auto-restore: an archive that appears fully written in a spool directory is restored into
/// its pod, then moved to `done/` (or `failed/`) with a JSON result beside it. Never deleted,
/// never restored twice: archives are deduplicated by SHA-256 across restarts.
///
/// Target pod, first match: a `<archive>.target` sidecar holding the pod name; the directory's
/// default pod; the pod map (archive's pod name → pod); a pod named like the archive's own pod.
/// A sidecar that is present but unusable (not a regular file, over 256 bytes, not one valid
/// pod reference) fails its archive: there is no fallback to another pod.
///
/// Items are hostile until checked: each is opened once (`O_NOFOLLOW | O_NONBLOCK`, regular
/// file, size limit) and then used only through that fd — hashed, inspected and extracted from
/// it; the renames go through directory fds and must move the very file that was opened.
/// Anything else (a FIFO, socket, device, symlink, an oversized file, one swapped after its
/// check) is moved, unopened, to failed/ with the reason; blocking reads run on threads of
/// their own, so a bad item never holds up the next one or the daemon's shutdown.
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
    let restorePod: SpoolPodRestore
    let onHandled: @Sendable (SpoolResult) -> Void
    var processed: [String: String]
    static let filter = SpoolFilter(temporarySuffixes: [".part", ".target", ".result.json"])

    public init(engine: Engine, directories: [SpoolDirectory], podMap: [String: String] = [:],
                restore: SpoolRestore? = nil, restorePod: SpoolPodRestore? = nil,
                onHandled: @escaping @Sendable (SpoolResult) -> Void = { _ in }) {
        self.engine = engine
        self.directories = directories
        self.podMap = podMap
        self.restore = restore ?? { request in try await engine.restore(request) }
        self.restorePod = restorePod ?? { request in try await engine.restorePod(request) }
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
            for name in try SpoolFolders.readyItems(directory.path, filter: Self.filter) {
                await handle(directory: directory.path, name: name)
            }
        }
    }

    /// Archives left in processing/ by a daemon that died mid-restore.
    func recoverInterrupted() async throws {
        for directory in directories {
            guard let folders = openFolders(directory) else { continue }
            for name in try SpoolFolders.readyItems(folders.processing.path, filter: Self.filter) {
                engine.logger.warning("spool archive was interrupted; settling it", metadata: ["archive": "\(folders.processing.pathOf(name))"])
                do {
                    let file = try folders.processing.openRegularFile(name, maxBytes: ArchiveFile.maxBytes)
                    await process(file, name: name, spool: directory, folders: folders, recovering: true)
                } catch {
                    refuse(name, from: folders.processing, folders: folders, error: error)
                }
            }
        }
    }

    func openFolders(_ spool: SpoolDirectory) -> SpoolFolders? {
        do { return try SpoolFolders(spool.path) } catch {
            engine.logger.error("cannot open spool directory", metadata: ["path": "\(spool.path)", "error": "\(error)"])
            return nil
        }
    }

    func handle(directory: String, name: String) async {
        guard let spool = directories.first(where: { $0.path == directory }) else { return }
        guard let folders = openFolders(spool) else { return }
        guard folders.incoming.contains(name) else {
            // Names reach here decoded lossily: one that is not UTF-8 is found by its raw bytes.
            for raw in folders.incoming.rawNamesNotUTF8(decodingAs: name) { refuse(rawName: raw, lossyName: name, folders: folders) }
            return
        }
        switch await claim(name, in: folders) {
        case let .claimed(file): await process(file, name: name, spool: spool, folders: folders, recovering: false)
        case let .refused(error): refuse(name, from: folders.incoming, folders: folders, error: error)
        case .gone: return
        }
    }

    /// Restores `processing/<name>` (already opened and checked as `file`) unless it is a
    /// duplicate or (when recovering) already done.
    func process(_ file: OpenedFile, name: String, spool: SpoolDirectory, folders: SpoolFolders, recovering: Bool) async {
        let started = ContinuousClock.now
        let sha: String
        do {
            sha = try await BlockingThread.run("hash \(file.path)") { flag in try SHA256Hasher.hash(file: file, cancellation: flag) }
        } catch {
            // Stopping: the archive stays in processing/ and is settled at the next start.
            if Task.isCancelled { return }
            return finish(SpoolResult(archive: name, sha256: "", error: error), folders: folders, since: started)
        }
        let sidecarPod: String?
        do { sidecarPod = try SpoolSidecar.read(name + SpoolSidecar.suffix, in: folders.processing) } catch {
            // Checked before anything else: a bad sidecar fails its archive, duplicate or not.
            return finish(SpoolResult(archive: name, sha256: sha, error: error), folders: folders, since: started)
        }
        var result = SpoolResult(archive: name, sha256: sha, duplicateOf: processed[sha])
        let containerName = Self.containerName(for: name, sha: sha)
        if result.duplicateOf == nil, await ArchiveInspector.isPodArchive(file) {
            result = await processPod(file, result: result, podName: sidecarPod ?? containerName, recovering: recovering)
        } else if recovering, result.duplicateOf == nil, let existing = try? engine.store.container(containerName) {
            (result.pod, result.container, result.containerID) = (existing.podName, existing.name, existing.id)
        } else if result.duplicateOf == nil {
            do {
                if let sidecarPod { result.pod = sidecarPod } else { result.pod = await targetPod(for: file, in: spool) }
                var request = RestoreRequest(importPath: file.path)
                request.archiveFile = file
                request.pod = result.pod
                request.name = containerName
                let outcome = try await restore(request)
                (result.container, result.containerID) = (outcome.name, outcome.id)
            } catch {
                result.fail(error)
            }
        }
        finish(result, folders: folders, since: started)
    }

    /// Without a sidecar: the directory's default pod, else the pod map, else the archive's own pod.
    func targetPod(for file: OpenedFile, in spool: SpoolDirectory) async -> String? {
        if let pod = spool.defaultPod { return pod }
        let inspection = try? await BlockingThread.run("inspect \(file.path)") { _ in try ArchiveInspector.inspect(file: file).0 }
        return inspection?.podName.map { podMap[$0] ?? $0 }
    }

    /// The restored container's name: the archive's file name without extensions, plus the
    /// hash prefix, so different archives of one container never collide.
    static func containerName(for archive: String, sha: String) -> String {
        let base = archive.split(separator: ".").first.map(String.init) ?? "restored"
        let safe = String(base.prefix(40).map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "-" })
        return (safe.first?.isLetter == true || safe.first?.isNumber == true ? safe : "r" + safe) + "-" + sha.prefix(8)
    }

    /// Records the outcome (ledger first), logs it, then moves the archive (and its sidecar)
    /// from processing/ to done/ or failed/ and writes the result there, last.
    func finish(_ result: SpoolResult, folders: SpoolFolders, since started: ContinuousClock.Instant) {
        var result = result
        result.finishedAt = Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let ok = result.error == nil
        if ok, result.duplicateOf == nil, !result.sha256.isEmpty {
            processed[result.sha256] = result.archive
            if let data = try? JSONEncoder().encode(processed) { try? Files.writeAtomically(Self.ledgerPath(engine.store.root), Array(data)) }
        }
        let target = ok ? folders.done : folders.failed
        // The log line before the move: whoever sees the result file finds the line written.
        logOutcome(result, at: target.pathOf(result.archive), source: "spool \(folders.incoming.path)",
                   milliseconds: Int(microseconds(since: started) / 1000))
        settle(result, from: folders.processing, to: target)
        onHandled(result)
    }

    /// The one line per spooled archive: restored (pod, name, time), a duplicate, or why it failed.
    func logOutcome(_ result: SpoolResult, at path: String, source: String, milliseconds: Int) {
        var metadata: Logger.Metadata = ["archive": "\(path)"]
        if let pod = result.pod { metadata["pod"] = "\(pod)" }
        let line: RestoreLogLine
        if let error = result.error {
            line = .failed(path, source: source, code: result.errorCode ?? "internal", reason: error, milliseconds: milliseconds)
        } else if let original = result.duplicateOf {
            line = .duplicate(path, source: source, of: original)
        } else {
            line = .restored(path, source: source, pod: result.pod, name: result.container ?? "?", id: result.containerID ?? "?", milliseconds: milliseconds)
        }
        line.write(to: engine.logger, metadata: metadata)
    }

    /// An item that could not be opened safely (a FIFO, symlink, device, a file over the size
    /// limit, one swapped after its check): its entry — never opened — moves to failed/ with
    /// the reason, and so does its sidecar.
    func refuse(_ name: String, from directory: OpenDirectory, folders: SpoolFolders, error: any Error) {
        RestoreLogLine.refusedItem(directory.pathOf(name), source: "spool \(folders.incoming.path)", error: error, movedTo: "failed/ unopened")
            .write(to: engine.logger, metadata: ["archive": "\(directory.pathOf(name))"])
        var result = SpoolResult(archive: name, sha256: "", error: error)
        result.finishedAt = Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        settle(result, from: directory, to: folders.failed)
        onHandled(result)
    }

    /// An item whose name is not UTF-8 cannot be named in a result or a log as it is: it moves,
    /// unopened, to failed/ under its name with each bad sequence replaced by `_`.
    func refuse(rawName: [UInt8], lossyName: String, folders: SpoolFolders) {
        let safeName = String(lossyName.unicodeScalars.map { $0 == "\u{FFFD}" ? "_" : Character($0) })
        let hex = rawName.map { String($0, radix: 16) }.joined(separator: " ")
        let error = EngineError.spoolItemRefused(path: folders.incoming.pathOf(lossyName),
                                                 reason: "its name is not valid UTF-8 (bytes \(hex)); moved to failed/ as \(safeName)")
        RestoreLogLine.refusedItem(folders.incoming.pathOf(lossyName), source: "spool \(folders.incoming.path)", error: error, movedTo: "failed/ unopened")
            .write(to: engine.logger, metadata: ["archive": "\(folders.incoming.pathOf(lossyName))"])
        var result = SpoolResult(archive: safeName, sha256: "", error: error)
        result.finishedAt = Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        do { try folders.incoming.move(rawName: rawName, to: folders.failed, as: safeName) } catch {
            engine.logger.error("cannot move spool item", metadata: ["archive": "\(folders.incoming.pathOf(lossyName))", "error": "\(error)"])
        }
        writeResult(result, in: folders.failed)
        onHandled(result)
    }

    func writeResult(_ result: SpoolResult, in target: OpenDirectory) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(result) {
            try? Files.writeAtomically(target.pathOf(result.archive + ".result.json"), Array(data), mode: 0o600)
        }
    }

    /// Moves the item and its sidecar to `target`, then writes `<name>.result.json` there: the
    /// result appears last, so whoever waits for it finds the archive already in place.
    func settle(_ result: SpoolResult, from source: OpenDirectory, to target: OpenDirectory) {
        do { try source.move(result.archive, to: target) } catch {
            engine.logger.error("cannot move spool item", metadata: ["archive": "\(source.pathOf(result.archive))", "error": "\(error)"])
        }
        let sidecar = result.archive + SpoolSidecar.suffix
        if source.contains(sidecar) { try? source.move(sidecar, to: target) }
        writeResult(result, in: target)
    }
}

