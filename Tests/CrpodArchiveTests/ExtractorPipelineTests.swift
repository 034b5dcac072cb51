#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux
import Foundation
import Synchronization
import Testing
@testable import CrpodArchive

/// Large members are hashed on a worker thread while the next chunk decompresses; a write
/// failure must surface as the inline path's would, and the worker must be gone when
/// `extract` returns or throws.
@Suite("ArchiveExtractor pipeline")
struct ExtractorPipelineTests {
    /// "/proc/<pid>/task/<tid>" of the calling thread.
    static func threadDirectory() -> String {
        var link = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/thread-self", &link, link.count - 1)
        return n > 0 ? String(decoding: link[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }

    /// Calls of the writer seam and the threads they ran on.
    final class Calls: Sendable {
        let count = Mutex(0)
        let threads = Mutex<Set<String>>([])
    }

    func archive(in dir: String, size: Int) throws -> (path: String, manifest: ArchiveManifest) {
        let path = "\(dir)/ckpt.tar.zst"
        let writer = try ArchiveWriter(destination: path, compression: .zstd)
        try writer.addBytes(Array("{}".utf8), as: "config.dump")
        try writer.addBytes(noise(size), as: "checkpoint/pages-1.img")
        return (path, try writer.finish())
    }

    @Test func aWriteErrorOnTheWorkerIsReportedAndTheThreadIsGone() throws {
        try withTempDir { dir throws in
            let (path, _) = try archive(in: dir, size: 9 << 20 + 123)
            let calls = Calls()
            let target = "\(dir)/out"
            let error = archiveError {
                _ = try ArchiveExtractor.extract(
                    archive: try ArchiveFile.open(path: path), into: target, limits: .default, keepContentOf: { _ in false }, contentLimit: 1 << 20,
                    writer: { fd, bytes, file throws(ArchiveError) in
                        let call = calls.count.withLock { count in count += 1; return count }
                        // config.dump is call 1 (inline); the third chunk of the large member fails.
                        if call == 4 {
                            throw ArchiveError.io(.syscall(operation: "write", path: file, errno: .init(rawValue: ENOSPC)))
                        }
                        try ExtractionSession.writeAll(fd, bytes, path: file)
                    },
                    onWorkerStart: { calls.threads.withLock { _ = $0.insert(Self.threadDirectory()) } })
            }
            guard case .io(let linux)? = error else {
                Issue.record("expected the write error, got \(String(describing: error))")
                return
            }
            #expect(linux.description.contains("\(target)/checkpoint/pages-1.img"), "\(linux)")
            #expect(linux.description.contains("write"), "\(linux)")
            // Stopped at once: nothing offered or written after the failing chunk.
            #expect(calls.count.withLock { $0 } == 4)
            #expect(fileBytes("\(target)/checkpoint/pages-1.img")?.count == 2 << 20)
            let threads = calls.threads.withLock { $0 }
            #expect(threads.count == 1, "one hashing worker for the large member: \(threads)")
            #expect(!threads.contains(Self.threadDirectory()))
            for thread in threads {
                #expect(access(thread, F_OK) != 0, "worker \(thread) still running")
            }
        }
    }

    @Test(arguments: [(1 << 20) - 1, 1 << 20, (1 << 20) + 1, 4 << 20, 7 << 20 + 4095])
    func largeMembersHashAndWriteAsInline(size: Int) throws {
        try withTempDir { dir throws in
            let (path, manifest) = try archive(in: dir, size: size)
            let target = "\(dir)/out"
            let result = try ArchiveExtractor.extract(archive: path, into: target)
            let pages = result.members.first { $0.name == "checkpoint/pages-1.img" }
            let expected = manifest.members.first { $0.name == "checkpoint/pages-1.img" }?.sha256
            #expect(pages?.sha256 == expected && expected != nil)
            #expect(pages?.size == UInt64(size))
            #expect(try SHA256Hasher.hash(file: "\(target)/checkpoint/pages-1.img") == expected)
        }
    }

    @Test func aReadErrorAfterAWriteErrorReportsTheWriteError() throws {
        try withTempDir { dir throws in
            let (whole, _) = try archive(in: dir, size: 8 << 20)
            let bytes = try #require(fileBytes(whole))
            let path = "\(dir)/cut.tar.zst"
            try put(path, Array(bytes.prefix(bytes.count / 2)))
            let error = archiveError {
                _ = try ArchiveExtractor.extract(
                    archive: try ArchiveFile.open(path: path), into: "\(dir)/out", limits: .default, keepContentOf: { _ in false }, contentLimit: 1 << 20,
                    writer: { _, bytes, file throws(ArchiveError) in
                        guard bytes.isEmpty || file.hasSuffix("config.dump") else {
                            throw ArchiveError.io(.syscall(operation: "write", path: file, errno: .init(rawValue: EIO)))
                        }
                    }, onWorkerStart: nil)
            }
            guard case .io? = error else {
                Issue.record("expected the write error, got \(String(describing: error))")
                return
            }
        }
    }
}
