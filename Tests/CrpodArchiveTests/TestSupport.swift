import Foundation
import Testing
@testable import CrpodArchive

/// A fresh directory under the system temp dir, removed when the closure returns. Fixtures are
/// made with Foundation so the code under test never checks itself.
func withTempDir<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("\(NSTemporaryDirectory())/crpod-archive-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkdtemp($0) != nil } ?? false }
    guard made else { throw POSIXError(.EIO) }
    let dir = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

func put(_ path: String, _ bytes: [UInt8], mode: Int = 0o644) throws {
    let parent = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: mode]) else {
        throw POSIXError(.EIO)
    }
}

func put(_ path: String, _ text: String, mode: Int = 0o644) throws {
    try put(path, Array(text.utf8), mode: mode)
}

func mkdirs(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

func fileBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

func listing(_ dir: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
}

func permissions(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}

/// Deterministic bytes that compress somewhat (a counter mixed into a repeating pattern).
func patterned(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 / 7) &* 31 &+ Int(seed) &+ ($0 % 13)) }
}

/// Every member of an archive, content kept for all of them.
func scanAll(_ path: String) throws -> (members: [ScannedMember], summary: ScanSummary) {
    var members: [ScannedMember] = []
    let summary = try ArchiveScanner.scan(path: path, keepContentOf: { _ in true }, contentLimit: 64 << 20) {
        members.append($0)
    }
    return (members, summary)
}

/// The ArchiveError a throwing call produced, or nil.
func archiveError(_ body: () throws -> Void) -> ArchiveError? {
    do {
        try body()
        return nil
    } catch let error as ArchiveError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// Writes a small archive with two files and a directory, returns its manifest.
@discardableResult
func writeSample(_ path: String, compression: CompressionMethod, in dir: String) throws -> ArchiveManifest {
    try put("\(dir)/src/checkpoint/pages-1.img", patterned(300_000))
    try put("\(dir)/src/checkpoint/core-1.img", "core")
    try mkdirs("\(dir)/src/checkpoint/empty")
    let writer = try ArchiveWriter(destination: path, compression: compression)
    try writer.addBytes(Array("{\"id\":\"abc\"}".utf8), as: "config.dump")
    try writer.addDirectory(at: "\(dir)/src/checkpoint", as: "checkpoint")
    return try writer.finish()
}
