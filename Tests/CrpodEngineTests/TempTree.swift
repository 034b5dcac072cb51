import Foundation
import SystemPackage

/// A fresh directory under the system temp dir, removed when the closure returns.
func withTempTree<T>(_ body: (String) throws -> T) throws -> T {
    let dir = try makeTempTree()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

/// `withTempTree` for async bodies.
func withTempTree<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = try makeTempTree()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try await body(dir)
}

private func makeTempTree() throws -> String {
    var template = Array("\(NSTemporaryDirectory())/crpod-engine-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkdtemp($0) != nil } ?? false }
    guard made else { throw Errno(rawValue: errno) }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Writes `text` at `path`, creating parent directories.
@discardableResult
func put(_ path: String, _ text: String, mode: Int = 0o644) throws -> String {
    let parent = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
        throw Errno(rawValue: errno)
    }
    return path
}

/// An executable shell script that does nothing (a stand-in for runc, criu, crpod-pause).
@discardableResult
func fakeTool(_ path: String) throws -> String {
    try put(path, "#!/bin/sh\nexit 0\n", mode: 0o755)
}
