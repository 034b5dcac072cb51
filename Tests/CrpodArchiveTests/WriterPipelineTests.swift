#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import CrpodArchive

/// Members larger than one chunk are hashed on a worker thread while the writer reads and
/// compresses the next chunk: the manifest must hold the same digests as hashing inline, the
/// worker must be another thread, and a short source must still poison the writer.
@Suite("ArchiveWriter hashing worker")
struct WriterPipelineTests {
    @Test(arguments: [CompressionMethod.zstd, .none])
    func largeMembersAreHashedOnAWorkerWithTheSameDigest(compression: CompressionMethod) throws {
        try withTempDir { dir throws in
            let big = noise(9 << 20 + 4321)
            try put("\(dir)/pages-1.img", big)
            try put("\(dir)/small.img", Array("tiny".utf8))
            let workers = Mutex<Set<String>>([])
            let writer = try ArchiveWriter(destination: "\(dir)/out.\(compression.fileExtension)", compression: compression)
            writer.onHashWorkerStart = { workers.withLock { _ = $0.insert(ExtractorPipelineTests.threadDirectory()) } }
            try writer.addFile(at: "\(dir)/pages-1.img", as: "checkpoint/pages-1.img")
            try writer.addFile(at: "\(dir)/small.img", as: "checkpoint/small.img")
            let manifest = try writer.finish()
            let digests = Dictionary(uniqueKeysWithValues: manifest.members.map { ($0.name, $0.sha256) })
            #expect(digests["checkpoint/pages-1.img"] == (try SHA256Hasher.hash(big)))
            #expect(digests["checkpoint/small.img"] == (try SHA256Hasher.hash(Array("tiny".utf8))))
            let seen = workers.withLock { $0 }
            #expect(seen.count == 1, "one worker, for the large member only")
            #expect(!seen.contains(ExtractorPipelineTests.threadDirectory()), "not the writing thread")
            let result = try ArchiveExtractor.extract(archive: "\(dir)/out.\(compression.fileExtension)", into: "\(dir)/x")
            #expect(result.members.first { $0.archiveMember.name == "checkpoint/pages-1.img" }?.sha256 == digests["checkpoint/pages-1.img"])
        }
    }

    @Test func aSourceThatShrinksPoisonsTheWriterAndTheWorkerIsJoined() throws {
        try withTempDir { dir throws in
            try put("\(dir)/pages-1.img", noise(5 << 20))
            let writer = try ArchiveWriter(destination: "\(dir)/out.tar.zst", compression: .zstd)
            let started = Mutex(0)
            writer.onHashWorkerStart = {
                started.withLock { $0 += 1 }
                truncate("\(dir)/pages-1.img", 2 << 20)
            }
            let error = archiveError { try writer.addFile(at: "\(dir)/pages-1.img", as: "checkpoint/pages-1.img") }
            guard case .fileChanged(_, let expected, _)? = error else {
                Issue.record("expected fileChanged, got \(String(describing: error))")
                return
            }
            #expect(expected == 5 << 20)
            #expect(started.withLock { $0 } == 1)
            #expect(!FileManager.default.fileExists(atPath: writer.temporaryPath), "temp file discarded")
            #expect(archiveError { try writer.finish() } != nil, "the writer is closed")
        }
    }
}
