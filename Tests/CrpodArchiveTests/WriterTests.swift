import Foundation
import Testing
@testable import CrpodArchive

/// L1: ArchiveWriter → ArchiveScanner on temp trees.
@Suite("ArchiveWriter")
struct WriterTests {
    @Test(arguments: CompressionMethod.allCases)
    func roundTripKeepsContentAndManifestLast(compression: CompressionMethod) throws {
        try withTempDir { dir throws in
            let path = "\(dir)/out.\(compression.fileExtension)"
            let manifest = try writeSample(path, compression: compression, in: dir)
            let (members, summary) = try scanAll(path)

            #expect(members.map(\.name) == [
                "config.dump", "checkpoint", "checkpoint/core-1.img", "checkpoint/empty",
                "checkpoint/pages-1.img", "crpod-manifest.json",
            ])
            #expect(members.map(\.type) == [.file, .directory, .file, .directory, .file, .file])
            let byName = Dictionary(uniqueKeysWithValues: members.map { ($0.name, $0) })
            #expect(byName["config.dump"]?.content == Array("{\"id\":\"abc\"}".utf8))
            #expect(byName["checkpoint/pages-1.img"]?.content == patterned(300_000))
            #expect(byName["checkpoint/pages-1.img"]?.size == 300_000)
            #expect(byName["config.dump"]?.mode == 0o600)

            let last = try #require(members.last?.content)
            let stored = try ArchiveManifest.decode(last, path: path)
            #expect(stored == manifest)
            #expect(stored.version == 1)
            #expect(stored.members.map(\.name) == ["checkpoint/core-1.img", "checkpoint/pages-1.img", "config.dump"])
            for entry in stored.members {
                #expect(byName[entry.name]?.sha256 == entry.sha256)
                #expect(byName[entry.name]?.size == UInt64(entry.size))
            }

            #expect(summary.compression == compression)
            #expect(summary.memberCount == 6)
            #expect(summary.compressedBytes == UInt64(fileBytes(path)?.count ?? -1))
            #expect(try CompressionMethod.detect(path: path).compression == compression)
        }
    }

    @Test func manifestJSONHasTheDocumentedShape() throws {
        let manifest = ArchiveManifest(members: [.init(name: "b", size: 2, sha256: "x"), .init(name: "a", size: 1, sha256: "y")])
        let text = String(decoding: try manifest.encoded(), as: UTF8.self)
        #expect(text == #"{"members":[{"name":"a","sha256":"y","size":1},{"name":"b","sha256":"x","size":2}],"version":1}"#)
    }

    @Test func finishRenamesAtomicallyWithMode0600() throws {
        try withTempDir { dir throws in
            let path = "\(dir)/ckpt.tar.zst"
            let writer = try ArchiveWriter(destination: path, compression: .zstd)
            #expect(writer.temporaryPath.hasPrefix("\(path).part-"))
            #expect(permissions(writer.temporaryPath) == 0o600)
            try writer.addBytes([1, 2, 3], as: "a")
            try writer.finish()
            #expect(try listing(dir) == ["ckpt.tar.zst"])
            #expect(permissions(path) == 0o600)
            #expect(archiveError { try writer.addBytes([], as: "b") }.map { "\($0)" }?.contains("already finished") == true)
        }
    }

    @Test func abortAndDeinitRemoveTheTempFile() throws {
        try withTempDir { dir throws in
            let aborted = try ArchiveWriter(destination: "\(dir)/a.tar", compression: .gzip)
            try aborted.addBytes([1], as: "x")
            aborted.abort()
            aborted.abort()
            #expect(try listing(dir) == [])
            do {
                let dropped = try ArchiveWriter(destination: "\(dir)/b.tar", compression: .none)
                try dropped.addBytes([1], as: "x")
                #expect(try listing(dir).count == 1)
            }
            #expect(try listing(dir) == [])
        }
    }

    @Test func failedAddBeforeTheHeaderKeepsTheWriterUsable() throws {
        try withTempDir { dir throws in
            let path = "\(dir)/out.tar"
            let writer = try ArchiveWriter(destination: path, compression: .none)
            let missing = archiveError { try writer.addFile(at: "\(dir)/missing", as: "missing") }
            #expect(missing?.description.contains("\(dir)/missing") == true)
            #expect(!FileManager.default.fileExists(atPath: path))
            try put("\(dir)/present", "ok")
            try writer.addFile(at: "\(dir)/present", as: "missing")
            let manifest = try writer.finish()
            #expect(manifest.members.map(\.name) == ["missing"])
        }
    }

    /// A sysfs file claims 4096 bytes and yields fewer: the header would lie, so the writer
    /// poisons itself, removes the temp file and never produces the final file.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/sys/devices/system/cpu/online")))
    func shrinkingFilePoisonsTheWriter() throws {
        try withTempDir { dir throws in
            let path = "\(dir)/out.tar.gz"
            let writer = try ArchiveWriter(destination: path, compression: .gzip)
            let error = archiveError { try writer.addFile(at: "/sys/devices/system/cpu/online", as: "online") }
            guard case .fileChanged(let source, let expected, _)? = error else {
                Issue.record("expected fileChanged, got \(String(describing: error))")
                return
            }
            #expect(source == "/sys/devices/system/cpu/online" && expected == 4096)
            #expect(try listing(dir) == [])
            #expect(archiveError { try writer.finish() }.map { "\($0)" }?.contains("failed") == true)
            #expect(try listing(dir) == [])
        }
    }

    @Test(arguments: ["/etc/passwd", "a/../b", "..", "a//b", "", "./a", "a/", "a/.", "nul\u{0}byte"])
    func unsafeNamesAreRejected(name: String) throws {
        try withTempDir { dir throws in
            let writer = try ArchiveWriter(destination: "\(dir)/out.tar", compression: .none)
            guard case .unsafeMemberName(let rejected, _)? = archiveError({ try writer.addBytes([], as: name) }) else {
                Issue.record("\(String(reflecting: name)) was accepted")
                return
            }
            #expect(rejected == name)
            try writer.addBytes([], as: "fine")
            try writer.finish()
        }
    }

    @Test func duplicateNamesAreRejectedIncludingTheManifest() throws {
        try withTempDir { dir throws in
            try put("\(dir)/f", "x")
            let writer = try ArchiveWriter(destination: "\(dir)/out.tar", compression: .none)
            try writer.addBytes([1], as: "config.dump")
            for attempt in [{ try writer.addBytes([2], as: "config.dump") }, { try writer.addFile(at: "\(dir)/f", as: "config.dump") }] {
                guard case .duplicateMember(let name)? = archiveError(attempt) else {
                    Issue.record("duplicate accepted")
                    return
                }
                #expect(name == "config.dump")
            }
            guard case .duplicateMember? = archiveError({ try writer.finish(manifestName: "config.dump") }) else {
                Issue.record("manifest name clash accepted")
                return
            }
        }
    }

    @Test func addDirectorySkipsFifosAndKeepsSymlinks() throws {
        try withTempDir { dir throws in
            try put("\(dir)/src/file", "data")
            try FileManager.default.createSymbolicLink(atPath: "\(dir)/src/link", withDestinationPath: "file")
            #expect(mkfifo("\(dir)/src/fifo", 0o600) == 0)
            let writer = try ArchiveWriter(destination: "\(dir)/out.tar", compression: .none)
            let skipped = try writer.addDirectory(at: "\(dir)/src", as: "")
            #expect(skipped == ["fifo"])
            try writer.finish(manifestName: nil)
            let (members, _) = try scanAll("\(dir)/out.tar")
            #expect(members.map(\.name) == ["file", "link"])
            #expect(members.last?.type == .symlink && members.last?.linkTarget == "file")
        }
    }

    @Test func progressReportsCumulativeBytes() throws {
        try withTempDir { dir throws in
            try put("\(dir)/big", patterned(2_500_000))
            let seen = Recorder()
            let writer = try ArchiveWriter(destination: "\(dir)/out.tar.zst", compression: .zstd, threads: 2) { seen.add($0) }
            try writer.addFile(at: "\(dir)/big", as: "big")
            writer.abort()
            let values = seen.values
            #expect(values.last == 2_500_000)
            #expect(values == values.sorted() && values.count >= 3)
        }
    }
}

final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [UInt64] = []
    func add(_ value: UInt64) { lock.withLock { stored.append(value) } }
    var values: [UInt64] { lock.withLock { stored } }
}
