import Foundation
import SystemPackage

/// A fresh directory under the system temp dir, removed when the closure returns. Fixtures are
/// made with Foundation, so the code under test (CrpodLinux.Files) never checks itself.
func withTempTree<T>(_ body: (String) throws -> T) throws -> T {
    let dir = try makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

func withTempTree<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = try makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try await body(dir)
}

private func makeTempDirectory() throws -> String {
    var template = Array("\(NSTemporaryDirectory())/crpod-linux-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkdtemp($0) != nil } ?? false }
    guard made else { throw Errno(rawValue: errno) }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Writes `text` at `path`, creating parent directories.
func put(_ path: String, _ text: String, mode: Int = 0o644) throws {
    let parent = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
        throw Errno(rawValue: errno)
    }
}

func contents(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

func isDir(_ path: String) -> Bool {
    var flag: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
}

func mkdirs(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

/// Permission bits of `path` (lstat).
func permissions(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
}
