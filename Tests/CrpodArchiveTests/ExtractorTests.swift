import Foundation
import Testing
@testable import CrpodArchive

/// A temp dir holding `a.tar` (the archive), `target` (where extraction writes) and `sibling`
/// (an empty directory that must stay empty whatever the archive says).
struct Sandbox {
    let dir: String
    var archive: String { "\(dir)/a.tar" }
    var target: String { "\(dir)/target" }
    var sibling: String { "\(dir)/sibling" }

    static func run(_ body: (Sandbox) throws -> Void) throws {
        try withTempDir { dir throws in
            try mkdirs("\(dir)/sibling")
            try body(Sandbox(dir: dir))
        }
    }

    /// Nothing appeared next to the target or in the sibling.
    func expectNothingOutside(sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try listing(sibling) == [], sourceLocation: sourceLocation)
        #expect(try listing(dir) == ["a.tar", "sibling", "target"], sourceLocation: sourceLocation)
    }
}

enum PodmanFixtures {
    static let directory = ((#filePath as NSString).deletingLastPathComponent as NSString)
        .deletingLastPathComponent + "/Fixtures/podman"
    static let names = ["standalone.tar", "pod-member.tar.zst", "pod-member-pid.tar.gz"]
}

/// L1: ArchiveExtractor on archives written by ArchiveWriter, by podman, and built hostile.
@Suite("ArchiveExtractor")
struct ExtractorTests {
    @Test(arguments: CompressionMethod.allCases)
    func roundTripMatchesTheManifestOnDisk(compression: CompressionMethod) throws {
        try withTempDir { dir throws in
            let path = "\(dir)/ckpt.\(compression.fileExtension)"
            let manifest = try writeSample(path, compression: compression, in: dir)
            let out = "\(dir)/out"
            let result = try ArchiveExtractor.extract(
                archive: path, into: out, keepContentOf: { $0 == "config.dump" || $0 == "crpod-manifest.json" },
                contentLimit: 4096)

            #expect(result.members.map(\.name) == [
                "config.dump", "checkpoint", "checkpoint/core-1.img", "checkpoint/empty",
                "checkpoint/pages-1.img", "crpod-manifest.json",
            ])
            let byName = Dictionary(uniqueKeysWithValues: result.members.map { ($0.name, $0) })
            for entry in manifest.members {
                #expect(byName[entry.name]?.sha256 == entry.sha256)
                #expect(byName[entry.name]?.size == UInt64(entry.size))
                #expect(try SHA256Hasher.hash(file: "\(out)/\(entry.name)") == entry.sha256)
            }
            #expect(fileBytes("\(out)/checkpoint/pages-1.img") == patterned(300_000))
            #expect(result.contents["config.dump"] == Array("{\"id\":\"abc\"}".utf8))
            #expect(try ArchiveManifest.decode(#require(result.contents["crpod-manifest.json"]), path: path) == manifest)
            #expect(result.contents.count == 2)
            #expect(permissions("\(out)/config.dump") == 0o600)
            #expect(permissions("\(out)/checkpoint") == 0o700)
            #expect(permissions("\(out)/checkpoint/empty") == 0o700)
            #expect(result.summary.compression == compression)
            #expect(result.summary.memberCount == 6)
            #expect(result.summary.compressedBytes == UInt64(fileBytes(path)?.count ?? -1))
            let (scanned, _) = try scanAll(path)
            #expect(scanned.map(\.sha256) == result.members.map(\.sha256))
        }
    }

    @Test func readsXZAndImpliesMissingParentDirectories() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [.file("checkpoint/deep/core-1.img", "core"), .dir("checkpoint")], filter: .xz)
            let result = try ArchiveExtractor.extract(archive: box.archive, into: box.target)
            #expect(result.summary.filterName == "xz")
            #expect(result.members.map(\.name) == ["checkpoint/deep/core-1.img", "checkpoint"])
            #expect(fileBytes("\(box.target)/checkpoint/deep/core-1.img") == Array("core".utf8))
            #expect(permissions("\(box.target)/checkpoint/deep") == 0o700)
            try box.expectNothingOutside()
        }
    }

    @Test(arguments: PodmanFixtures.names)
    func extractsRealPodmanArchivesLikeTheScanner(name: String) throws {
        try withTempDir { dir throws in
            let path = "\(PodmanFixtures.directory)/\(name)"
            let result = try ArchiveExtractor.extract(archive: path, into: "\(dir)/out")
            let (scanned, summary) = try scanAll(path)
            #expect(result.members.map(\.name) == scanned.map(\.name))
            #expect(result.members.map(\.sha256) == scanned.map(\.sha256))
            #expect(result.summary == summary)
            let deleted = try #require(fileBytes("\(dir)/out/deleted.files"))
            #expect(try JSONDecoder().decode([String].self, from: Data(deleted)) == ["/bin/vi"])
            #expect(permissions("\(dir)/out/checkpoint/inventory.img") == 0o600)
        }
    }

    @Test func aTargetThatIsNotEmptyIsRefusedAndLeftAlone() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [.file("config.dump", "{}")])
            try put("\(box.target)/keep", "mine")
            guard case .targetNotEmpty(box.target)? = archiveError({
                _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target)
            }) else {
                Issue.record("non-empty target accepted")
                return
            }
            #expect(try listing(box.target) == ["keep"])
            #expect(fileBytes("\(box.target)/keep") == Array("mine".utf8))
        }
    }

    @Test func aSymlinkAsTargetIsRefused() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [.file("config.dump", "{}")])
            try FileManager.default.createSymbolicLink(atPath: box.target, withDestinationPath: box.sibling)
            let error = archiveError { _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target) }
            #expect(error?.description.contains(box.target) == true, "\(String(describing: error))")
            #expect(try listing(box.sibling) == [])
        }
    }

    @Test func aMissingArchiveCreatesNoTarget() throws {
        try Sandbox.run { box throws in
            let error = archiveError { _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target) }
            #expect(error?.description == "open \(box.archive): No such file or directory (errno 2)")
            #expect(try listing(box.dir) == ["sibling"])
        }
    }

    /// Someone else plants symlinks inside the target while it is being written: openat2
    /// with RESOLVE_NO_SYMLINKS and O_EXCL refuse to go through them or to open them.
    @Test func symlinksPlantedInTheTargetAreNeverFollowed() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [])
            let root = try ExtractionRoot(emptyDirectory: box.target)
            try root.makeDirectory("d")
            #expect(rmdir("\(box.target)/d") == 0)
            try FileManager.default.createSymbolicLink(atPath: "\(box.target)/d", withDestinationPath: box.sibling)
            try FileManager.default.createSymbolicLink(atPath: "\(box.target)/f", withDestinationPath: "\(box.sibling)/f")
            let loop = "Too many levels of symbolic links"
            #expect(archiveError { _ = try root.createFile("d/x") }?.description.contains(loop) == true)
            #expect(archiveError { try root.makeDirectory("d/y") }?.description.contains(loop) == true)
            #expect(archiveError { _ = try root.createFile("f") }?.description.contains("File exists") == true)
            try box.expectNothingOutside()
        }
    }

    @Test(arguments: CompressionMethod.allCases)
    func aTruncatedArchiveFailsNamingTheMember(compression: CompressionMethod) throws {
        try Sandbox.run { box throws in
            let whole = "\(box.dir)/whole"
            let writer = try ArchiveWriter(destination: whole, compression: compression)
            try writer.addBytes(Array("{}".utf8), as: "config.dump")
            try writer.addBytes(noise(4 << 20), as: "checkpoint/pages-1.img")
            try writer.finish()
            let bytes = try #require(fileBytes(whole))
            try put(box.archive, Array(bytes.prefix(bytes.count * 2 / 3)))
            let error = archiveError { _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target) }
            guard case .libarchive(let operation, let path, let message)? = error else {
                Issue.record("truncated \(compression) archive extracted: \(String(describing: error))")
                return
            }
            #expect(path == box.archive)
            #expect(operation.contains("checkpoint/pages-1.img"), "\(operation)")
            #expect(message.lowercased().contains("truncated"), "\(message)")
            #expect(try listing(box.sibling) == [])
            #expect(try listing(box.dir) == ["a.tar", "sibling", "target", "whole"])
        }
    }
}

/// Bytes that do not compress (xorshift), so a cut lands inside the member's data.
func noise(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    for index in stride(from: 0, to: count, by: 8) {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        withUnsafeBytes(of: state) { word in
            for offset in 0..<min(8, count - index) { bytes[index + offset] = word[offset] }
        }
    }
    return bytes
}
