#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore

/// crpod's own integrity record, written as the last member of every checkpoint archive:
/// `{"version":1,"members":[{"name":…,"size":…,"sha256":…}]}`, one entry per regular file,
/// sorted by name. Podman ignores the extra member; crpod checks it on import. The one model
/// of this format is CrpodCore's `ArchiveManifestModel` (the validator reads it); the writer
/// adds only its byte-level encode and decode.
public typealias ArchiveManifest = ArchiveManifestModel

extension ArchiveManifestModel {
    public static let defaultName = CheckpointMember.manifest
    public typealias Member = Entry

    /// Deterministic JSON: members sorted by name, keys sorted.
    public func encoded() throws(ArchiveError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var sorted = self
        sorted.members.sort { $0.name < $1.name }
        do {
            return Array(try encoder.encode(sorted))
        } catch {
            throw ArchiveError.manifest(path: "(encode)", detail: "\(error)")
        }
    }

    /// Parses manifest bytes read from `path` (an archive, for the error message).
    public static func decode(_ bytes: [UInt8], path: String) throws(ArchiveError) -> ArchiveManifest {
        do {
            return try JSONDecoder().decode(ArchiveManifest.self, from: Data(bytes))
        } catch {
            throw ArchiveError.manifest(path: path, detail: "\(error)")
        }
    }
}

/// The rule for member names crpod writes (and that import code can apply to what it reads):
/// relative, `/`-separated, no empty, `.` or `..` components, no NUL, at most 4096 bytes.
public enum ArchiveMemberName {
    public static let maxLength = 4096

    public static func validate(_ name: String) throws(ArchiveError) {
        if let reason = problem(with: name) {
            throw ArchiveError.unsafeMemberName(name: name, reason: reason)
        }
    }

    /// Why `name` is unsafe, or nil when it is fine.
    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "empty" }
        if name.utf8.count > maxLength { return "longer than \(maxLength) bytes" }
        if name.utf8.contains(0) { return "contains a NUL byte" }
        if PathText.isAbsolute(name) { return "absolute path" }
        for component in PathText.components(name, omittingEmpty: false) {
            switch Array(component.utf8) {
            case []: return "empty path component (leading, trailing or doubled '/')"
            case Array(".".utf8): return "'.' component"
            case Array("..".utf8): return "'..' component"
            default: continue
            }
        }
        return nil
    }

    /// `prefix/name`, or `name` alone when the prefix is empty.
    static func join(_ prefix: String, _ name: String) -> String {
        prefix.isEmpty ? name : "\(prefix)/\(name)"
    }
}
