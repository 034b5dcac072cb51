#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodEngine
import CrpodLinux

public let crpodVersion = "0.2.0"

extension APIRouter {
    /// `path` resolved (symlinks included) and required to lie under an allowed directory.
    func confined(_ path: String, what: String, mustExist: Bool = true) throws -> String {
        guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
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
        let allowed = access().allowedDirectories.compactMap(Self.realPath)
        guard allowed.contains(where: { resolved == $0 || resolved.hasPrefix($0 == "/" ? "/" : $0 + "/") }) else {
            throw APIPathError(path: path, what: what, reason: "is outside the directories the API may use (\(access().allowedDirectories.joined(separator: ", ")))")
        }
        return resolved
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

    public static func error(status: Int, _ message: String) -> APIResponse {
        let body = (try? JSONEncoder().encode(APIErrorBody(error: message, status: status))).map(Array.init) ?? Array(message.utf8)
        return APIResponse(status: status, body: body)
    }

    static func status(for error: any Error) -> Int {
        switch error {
        case let error as EngineError:
            switch error {
            case .podNotFound, .containerNotFound: return 404
            case .nameInUse, .podHasContainers, .containerRunning, .containerNotRunning: return 409
            case .ambiguousReference, .rootfsMissing, .invalidInput, .archiveInvalid: return 400
            case .restoreRefused, .policyRefused, .imageRuleRefused: return 422
            default: return 500
            }
        case is APIPathError: return 403
        case let error as JobError:
            if case .queueFull = error { return 429 }
            return 404
        default: return 500
        }
    }

    /// A failed job keeps only its message: the same mapping, by the engine's wording.
    static func status(forMessage message: String) -> Int {
        if message.contains("cannot be retrieved") || message.hasPrefix("no container with") { return 404 }
        if message.hasPrefix("restore refused by policy") || message.hasPrefix("cannot restore") { return 422 }
        if message.hasPrefix("invalid ") || message.hasPrefix("archive ") { return 400 }
        if message.contains("already in use") { return 409 }
        return 500
    }

    /// For the duration histogram: the engine's microsecond clock, in seconds.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        Double(microseconds(since: start)) / 1_000_000
    }
}

/// A path in a request that the API may not touch.
public struct APIPathError: Error, CustomStringConvertible {
    public var path: String
    public var what: String
    public var reason: String
    public var description: String { "\(what) path \(path) \(reason)" }
}
