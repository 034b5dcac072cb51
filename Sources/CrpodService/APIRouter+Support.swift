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
import CrpodEngine
import CrpodLinux

public let crpodVersion = "0.2.0"

extension APIRouter {
    /// `path` resolved (symlinks included) and required to lie under an allowed directory.
    func confined(_ path: String, what: String, mustExist: Bool = true) throws -> String {
        guard PathText.isAbsolute(path), !PathText.hasDotDot(path) else {
            throw APIPathError(path: path, what: what, reason: "must be an absolute path without ..")
        }
        let resolved: String
        if mustExist {
            guard let real = Self.realPath(path) else { throw APIPathError(path: path, what: what, reason: "does not exist") }
            resolved = real
        } else {
            guard let parent = Self.realPath(Files.parent(of: path)) else { throw APIPathError(path: path, what: what, reason: "its directory does not exist") }
            resolved = parent + "/" + (path.split(separator: "/").last.map(String.init) ?? "")
        }
        guard allowedDirectory(containing: resolved) != nil else {
            throw APIPathError(path: path, what: what, reason: "is outside the directories the API may use (\(access().allowedDirectories.joined(separator: ", ")))")
        }
        return resolved
    }

    /// The allowed directory (resolved) that `resolved` lies in, if any.
    func allowedDirectory(containing resolved: String) -> String? {
        access().allowedDirectories.compactMap(Self.realPath).first { resolved == $0 || resolved.hasPrefix($0 == "/" ? "/" : $0 + "/") }
    }

    /// The archive at `path`, confined to the API's directories and opened once, on a thread
    /// of its own: the resolved path is opened beneath its allowed directory with no symlink
    /// followed on the way (a component swapped after the check fails the open), and must be
    /// a regular file within the size limit. The caller reads only this fd afterwards.
    func openConfinedArchive(_ path: String) async throws -> OpenedFile {
        let resolved = try confined(path, what: "archive")
        guard let root = allowedDirectory(containing: resolved), resolved != root else {
            throw APIPathError(path: path, what: "archive", reason: "is not a file under the directories the API may use")
        }
        let relative = String(resolved.dropFirst(root == "/" ? 1 : root.count + 1))
        return try await BlockingThread.run("open \(resolved)") { _ in
            try OpenedFile.open(beneath: root, relative: relative, path: resolved, maxBytes: ArchiveFile.maxBytes)
        }
    }

    /// The export's resolved path and its directory, opened once beneath its allowed directory
    /// with no symlink followed: the archive is written through that fd.
    func openConfinedExportDirectory(_ path: String) throws -> (String, OpenDirectory) {
        let resolved = try confined(path, what: "export", mustExist: false)
        let parent = Files.parent(of: resolved)
        guard let root = allowedDirectory(containing: parent) ?? allowedDirectory(containing: resolved) else {
            throw APIPathError(path: path, what: "export", reason: "is outside the directories the API may use")
        }
        let relative = parent == root ? "" : String(parent.dropFirst(root == "/" ? 1 : root.count + 1))
        do { return (resolved, try OpenDirectory(beneath: root, relative: relative, path: parent)) } catch {
            throw APIPathError(path: path, what: "export", reason: "has a directory that cannot be opened without following a symlink (\(error))")
        }
    }

    /// A rootfs must satisfy the restore policy's rootfs directories (when it names any).
    func confinedRootfs(_ path: String) throws -> String {
        let prefixes = access().policy.allowedRootfs
        guard !prefixes.isEmpty else { return path }
        guard let real = Self.realPath(path), prefixes.compactMap(Self.realPath).contains(where: { real == $0 || real.hasPrefix($0 + "/") }) else {
            throw APIPathError(path: path, what: "rootfs", reason: "is outside the allowed rootfs directories (\(prefixes.joined(separator: ", ")))")
        }
        return real
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: APIRequest) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(request.body)) } catch {
            throw EngineError.invalidInput(what: "request body of \(request.method) \(request.path)", detail: "not the expected JSON (\(error))")
        }
    }

    static func json<T: Encodable>(_ value: T, status: Int = 200) throws -> APIResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return APIResponse(status: status, body: Array(try encoder.encode(value)))
    }

    /// An error answer the server itself decides (no endpoint, too large, timed out, …).
    public static func error(status: Int, code: String, _ message: String) -> APIResponse {
        let body = (try? JSONEncoder().encode(APIErrorBody(error: message, status: status, code: code))).map(Array.init) ?? Array(message.utf8)
        return APIResponse(status: status, body: body)
    }

    /// The answer for a failed call: status and code from the error's type, text from the error.
    static func failure(_ error: any Error) -> APIResponse {
        let failure = FailureClass.of(error)
        return Self.error(status: status(of: failure.kind), code: failure.code, "\(error)")
    }

    static func status(of kind: FailureKind) -> Int {
        switch kind {
        case .badRequest: return 400
        case .forbidden: return 403
        case .notFound: return 404
        case .conflict: return 409
        case .refused: return 422
        case .busy: return 429
        case .internalFailure: return 500
        }
    }

    /// What a restore request restores and who asked, for its log line.
    static func restoreLogFacts(_ body: RestoreRequest, _ request: APIRequest) -> (archive: String, source: String) {
        let upload = request.uploadPath != nil
        let archive = upload ? "an uploaded archive" : body.importPath ?? body.container.map { "checkpoint of \($0)" } ?? "?"
        return (archive, restoreSource(request))
    }

    static func restoreSource(_ request: APIRequest) -> String {
        "API \(request.method) \(request.path) from uid \(request.peer.uid) pid \(request.peer.pid)"
    }

    static func restoreLogLine(_ result: Result<RestoreOutcome, any Error>, archive: String, source: String, milliseconds: Int) -> RestoreLogLine {
        switch result {
        case let .success(outcome):
            return .restored(archive, source: source, pod: outcome.podName, name: outcome.name, id: outcome.id, milliseconds: milliseconds)
        case let .failure(error):
            return .failed(archive, source: source, error: error, milliseconds: milliseconds)
        }
    }

    /// Runs a restore endpoint; a request refused before its job starts (a path outside the
    /// API's directories, bad JSON, a full queue) gets its log line here.
    func loggingRefusal(of request: APIRequest, _ body: () async throws -> APIResponse) async throws -> APIResponse {
        do { return try await body() } catch {
            let archive = request.uploadPath != nil ? "an uploaded archive"
                : (try? JSONDecoder().decode(RestoreRequest.self, from: Data(request.body)))?.importPath ?? "?"
            RestoreLogLine.failed(archive, source: Self.restoreSource(request), error: error)
                .write(to: client.engine.logger, metadata: ["archive": "\(archive)"])
            throw error
        }
    }

    /// For the duration histogram: the engine's microsecond clock, in seconds.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        Double(microseconds(since: start)) / 1_000_000
    }
}

/// A path in a request that the API may not touch.
public struct APIPathError: ClassifiedError, CustomStringConvertible {
    public var path: String
    public var what: String
    public var reason: String
    public var description: String { "\(what) path \(path) \(reason)" }
    public var failureClass: FailureClass { FailureClass(.forbidden, "path_not_allowed") }
}
