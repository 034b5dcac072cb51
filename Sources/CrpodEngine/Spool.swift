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

/// Auto-restore: an archive that appears fully written in a spool directory is restored into
/// its pod, then moved to `done/` (or `failed/`) with a JSON result beside it. Never deleted,
/// never restored twice: archives are deduplicated by SHA-256 across restarts.
///
/// Target pod, first match: a `<archive>.target` sidecar holding the pod name; the directory's
/// default pod; a pod named like the archive's own pod.
public actor SpoolService {
    let engine: Engine
    let directories: [SpoolDirectory]
    var processed: [String: String]

    public init(engine: Engine, directories: [SpoolDirectory]) {
        self.engine = engine
        self.directories = directories
        self.processed = SpoolService.loadProcessed(engine.store.root)
    }

    static func ledgerPath(_ root: String) -> String { root + "/spool-processed.json" }

    static func loadProcessed(_ root: String) -> [String: String] {
        guard let bytes = try? Files.read(ledgerPath(root)) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: Data(bytes))) ?? [:]
    }

    /// Handles what is already there, then every file that becomes ready, until cancelled.
    public func run(ready: @Sendable () -> Void = {}) async throws {
        for directory in directories {
            for sub in ["done", "failed"] { try Files.makeDirectories(directory.path + "/" + sub, mode: 0o700) }
        }
        let watcher = try DirectoryWatcher(directories: directories.map(\.path), filter: SpoolFilter(temporarySuffixes: [".part", ".target"]))
        defer { watcher.stop() }
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
            for name in try DirectoryWatcher.scan(directory.path, filter: SpoolFilter(temporarySuffixes: [".part", ".target"])) {
                await handle(directory: directory.path, name: name)
            }
        }
    }

    func handle(directory: String, name: String) async {
        let path = directory + "/" + name
        guard Files.exists(path), let spool = directories.first(where: { $0.path == directory }) else { return }
        let sha = (try? SHA256Hasher.hash(file: path)) ?? ""
        var result = SpoolResult(archive: name, sha256: sha, pod: nil, container: nil, containerID: nil, error: nil,
                                 duplicateOf: processed[sha], finishedAt: "")
        if result.duplicateOf == nil && !sha.isEmpty {
            result.pod = targetPod(for: path, in: spool)
            var request = RestoreRequest(importPath: path)
            request.pod = result.pod
            request.name = Self.containerName(for: name, sha: sha)
            do {
                let outcome = try await engine.restore(request)
                (result.container, result.containerID) = (outcome.name, outcome.id)
            } catch {
                result.error = "\(error)"
            }
        } else if sha.isEmpty {
            result.error = "cannot read \(path)"
        }
        finish(result, path: path, directory: directory, sidecar: path + ".target")
    }

    func targetPod(for path: String, in spool: SpoolDirectory) -> String? {
        if let text = try? Files.readText(path + ".target") {
            let pod = text.trimmingCharacters(in: " \n\t")
            if !pod.isEmpty { return pod }
        }
        if let pod = spool.defaultPod { return pod }
        return (try? ArchiveInspector.inspect(path: path))?.0.podName
    }

    /// The restored container's name: the archive's file name without extensions, plus the
    /// hash prefix, so different archives of one container never collide.
    static func containerName(for archive: String, sha: String) -> String {
        let base = archive.split(separator: ".").first.map(String.init) ?? "restored"
        let safe = String(base.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        return (safe.first?.isLetter == true || safe.first?.isNumber == true ? safe : "r" + safe) + "-" + sha.prefix(8)
    }

    /// Moves the archive (and its sidecar) to done/ or failed/ and writes the result beside it.
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
    }
}
