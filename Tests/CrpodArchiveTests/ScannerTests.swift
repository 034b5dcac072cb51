import Foundation
import Testing
@testable import CrpodArchive

/// L1: the scanner on archives built on the fly, cut short, or made of garbage.
@Suite("ArchiveScanner")
struct ScannerTests {
    /// `greeting.txt` ("hello xz\n") in a ustar archive, xz-compressed by xz(1).
    static let tarXZ = "/Td6WFoAAAFpIt42AgAhARwAAAAQz1jM4Cf/AHJdADOciODt+zRla/Z2QFOqMIhsvwBoVT05ds0Fm1OeQd4p8h3XMsq4QvwShihj9E+qkolG9UJLh8dpVvpWGqhvp9e0jYE4gKmsrrWPS+oUl3TYLU082Oc1QnYyBnh71r2R/dVxmZ8lOCfAmQwok1MYXQ9wAAAAALCDiYwAAYoBgFAAAFhS+8A+MA2LAgAAAAABWVo="

    @Test(arguments: CompressionMethod.allCases)
    func truncatedArchiveFailsWithPathAndLibarchiveMessage(compression: CompressionMethod) throws {
        try withTempDir { dir throws in
            let path = "\(dir)/whole"
            try writeSample(path, compression: compression, in: dir)
            let bytes = try #require(fileBytes(path))
            try put("\(dir)/half", Array(bytes.prefix(bytes.count / 2)))
            guard case .libarchive(let operation, let failing, let message)? = archiveError({ _ = try scanAll("\(dir)/half") }) else {
                Issue.record("truncated \(compression) archive scanned without a libarchive error")
                return
            }
            #expect(failing == "\(dir)/half")
            #expect(operation == "read data" || operation == "open archive", "\(operation)")
            #expect(message.lowercased().contains("truncated"), "\(message)")
        }
    }

    @Test func garbageIsNotAnArchive() throws {
        try withTempDir { dir throws in
            try put("\(dir)/junk", (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })
            let error = archiveError { _ = try scanAll("\(dir)/junk") }
            guard case .libarchive(_, let path, let message)? = error else {
                Issue.record("garbage accepted: \(String(describing: error))")
                return
            }
            #expect(path == "\(dir)/junk")
            #expect(message.contains("Unrecognized archive format"), "\(message)")
            #expect(archiveError { _ = try CompressionMethod.detect(path: "\(dir)/junk") } != nil)
        }
    }

    /// What `ArchiveInspector.isPodArchive` reads: only the first header. The archive is cut in
    /// the middle of its second, large member, so a full scan fails while the peek does not.
    @Test func firstMemberNameReadsOnlyTheFirstHeader() throws {
        try withTempDir { dir throws in
            let path = "\(dir)/pod.tar.zst"
            let writer = try ArchiveWriter(destination: path, compression: .zstd)
            try writer.addBytes(Array("{}".utf8), as: "pod.json")
            try writer.addBytes((0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }, as: "members/a/pages-1.img")
            try writer.finish()
            let bytes = try #require(fileBytes(path))
            try put("\(dir)/cut", Array(bytes.prefix(bytes.count / 2)))
            #expect(try ArchiveScanner.firstMemberName(file: ArchiveFile.open(path: "\(dir)/cut")) == "pod.json")
            #expect(archiveError { _ = try scanAll("\(dir)/cut") } != nil)
            try writeSample("\(dir)/plain", compression: .none, in: dir)
            #expect(try ArchiveScanner.firstMemberName(file: ArchiveFile.open(path: "\(dir)/plain")) != "pod.json")
        }
    }

    /// libarchive accepts a tar cut at a member boundary as complete (no end-of-archive
    /// check), which is why crpod's manifest is the last member.
    @Test func tarCutAtAMemberBoundaryLosesTheManifestSilently() throws {
        try withTempDir { dir throws in
            let path = "\(dir)/a.tar"
            let writer = try ArchiveWriter(destination: path, compression: .none)
            try writer.addBytes(Array(repeating: 1, count: 512), as: "first")
            try writer.finish()
            try put("\(dir)/cut", Array(try #require(fileBytes(path)).prefix(1024)))
            let (members, _) = try scanAll("\(dir)/cut")
            #expect(members.map(\.name) == ["first"])
        }
    }

    @Test func emptyFileIsNotAnArchive() throws {
        try withTempDir { dir throws in
            try put("\(dir)/empty", [UInt8]())
            guard case .libarchive(_, _, let message)? = archiveError({ _ = try scanAll("\(dir)/empty") }) else {
                Issue.record("empty file accepted")
                return
            }
            #expect(message.contains("Unrecognized archive format"))
        }
    }

    @Test func missingFileNamesThePath() throws {
        let error = archiveError { _ = try scanAll("/nonexistent/ckpt.tar") }
        #expect(error?.description == "open /nonexistent/ckpt.tar: No such file or directory (errno 2)")
    }

    @Test func readsXZButDoesNotCallItAWrittenCompression() throws {
        try withTempDir { dir throws in
            try put("\(dir)/f.tar.xz", Array(try #require(Data(base64Encoded: Self.tarXZ))))
            let (members, summary) = try scanAll("\(dir)/f.tar.xz")
            #expect(members.map(\.name) == ["greeting.txt"])
            #expect(members.first?.content == Array("hello xz\n".utf8))
            #expect(members.first?.sha256 == "e04517f2084dff89fbfc2fb64c1bce96cf58e9de11eb08184226a103da5d5948")
            #expect(summary.compression == nil && summary.filterName == "xz")
            let detection = try CompressionMethod.detect(path: "\(dir)/f.tar.xz")
            guard case .compressionUnknown("xz")? = archiveError({ _ = try detection.required() }) else {
                Issue.record("xz reported as a known compression")
                return
            }
        }
    }

    @Test func memberAndByteLimitsStopHostileArchives() throws {
        try withTempDir { dir throws in
            let path = "\(dir)/a.tar.gz"
            try writeSample(path, compression: .gzip, in: dir)
            let many = archiveError { _ = try ArchiveScanner.scan(path: path, maxMembers: 3) { _ in } }
            guard case .tooManyMembers(path, 3)? = many else { Issue.record("\(String(describing: many))"); return }
            let big = archiveError { _ = try ArchiveScanner.scan(path: path, maxTotalBytes: 1000) { _ in } }
            guard case .archiveTooLarge(path, 1000)? = big else { Issue.record("\(String(describing: big))"); return }
        }
    }

    @Test func contentIsKeptOnlyWhenAskedAndSmallEnough() throws {
        try withTempDir { dir throws in
            let path = "\(dir)/a.tar.zst"
            try writeSample(path, compression: .zstd, in: dir)
            var kept: [String: Bool] = [:]
            var hashed: [String] = []
            let summary = try ArchiveScanner.scan(
                path: path, keepContentOf: { $0.hasPrefix("checkpoint/") }, contentLimit: 1000
            ) { member in
                kept[member.name] = member.content != nil
                if member.sha256 != nil { hashed.append(member.name) }
            }
            #expect(kept["checkpoint/core-1.img"] == true)
            #expect(kept["checkpoint/pages-1.img"] == false)
            #expect(kept["config.dump"] == false)
            #expect(hashed.count == 4)
            #expect(summary.totalUncompressedBytes > 300_000)
        }
    }

    @Test func visitorErrorsPropagate() throws {
        struct Stop: Error {}
        try withTempDir { dir throws in
            let path = "\(dir)/a.tar"
            try writeSample(path, compression: .none, in: dir)
            var count = 0
            #expect(throws: Stop.self) {
                _ = try ArchiveScanner.scan(path: path) { _ in
                    count += 1
                    if count == 2 { throw Stop() }
                }
            }
            #expect(count == 2)
        }
    }

    @Test func detectsTheFormatAndFilterNames() throws {
        try withTempDir { dir throws in
            for compression in CompressionMethod.allCases {
                let path = "\(dir)/\(compression)"
                let writer = try ArchiveWriter(destination: path, compression: compression)
                try writer.addBytes(Array("x".utf8), as: String(repeating: "long/", count: 30) + "name")
                try writer.finish()
                let detection = try CompressionMethod.detect(path: path)
                #expect(detection.compression == compression)
                #expect(detection.filterName == (compression == .none ? "none" : compression.rawValue))
                // pax restricted: plain ustar headers unless a value needs a pax extension.
                #expect(detection.formatName == "POSIX ustar format", "\(String(describing: detection.formatName))")
            }
        }
    }
}
