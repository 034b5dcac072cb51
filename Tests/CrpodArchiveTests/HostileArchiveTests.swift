import Foundation
import Testing
@testable import CrpodArchive

/// A hostile checkpoint archive, built on the fly, and what the extractor must say about it.
enum HostileOuter: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case dotDot, absolute, symlink, hardlink, characterDevice, blockDevice, fifo
    case duplicate, duplicateViaDotSlash, memberOverLimit, tooManyMembers, totalOverLimit, ratioBomb, sparse

    var testDescription: String { rawValue }

    func members(_ box: Sandbox) -> [TarMember] {
        let ok = TarMember.file("config.dump", "{}")
        switch self {
        case .dotDot: return [ok, .file("../sibling/escape", "x")]
        case .absolute: return [ok, .file("\(box.sibling)/abs", "x")]
        case .symlink: return [ok, .symlink("link", to: box.sibling), .file("link/x", "x")]
        case .hardlink: return [ok, .hardlink("link", to: "config.dump")]
        case .characterDevice: return [ok, TarMember(name: "null", kind: .characterDevice(major: 1, minor: 3))]
        case .blockDevice: return [ok, TarMember(name: "sda", kind: .blockDevice(major: 8, minor: 0))]
        case .fifo: return [ok, TarMember(name: "pipe", kind: .fifo)]
        case .duplicate: return [ok, .file("config.dump", "{\"evil\":1}")]
        case .duplicateViaDotSlash: return [ok, .file("./config.dump", "{\"evil\":1}")]
        case .memberOverLimit: return [ok, TarMember(name: "checkpoint/pages-1.img", kind: .zeros(2 << 20))]
        case .tooManyMembers: return [ok, .file("a", "1"), .file("b", "2")]
        case .totalOverLimit: return [ok, TarMember(name: "a", kind: .zeros(600_000)), TarMember(name: "b", kind: .zeros(600_000))]
        case .ratioBomb: return [ok, TarMember(name: "checkpoint/pages-1.img", kind: .zeros(50 << 20))]
        case .sparse: return [ok, TarMember(name: "checkpoint/pages-1.img", kind: .sparse(size: 1 << 30, data: [1, 2, 3]))]
        }
    }

    var filter: TarFilter { self == .ratioBomb ? .zstd : .gzip }

    var limits: ExtractionLimits {
        switch self {
        case .memberOverLimit: ExtractionLimits(maxMemberBytes: 1 << 20)
        case .tooManyMembers: ExtractionLimits(maxMembers: 2)
        case .totalOverLimit: ExtractionLimits(maxTotalBytes: 1 << 20)
        case .ratioBomb: ExtractionLimits(maxCompressionRatio: 200, ratioSlackBytes: 1 << 20)
        default: .default
        }
    }

    /// Whether `error` is the refusal expected, naming the member.
    func matches(_ error: ArchiveError?, _ box: Sandbox) -> Bool {
        switch (self, error) {
        case (.dotDot, .unsafeMemberName("../sibling/escape", _)?): true
        case (.absolute, .unsafeMemberName(let name, _)?): name == "\(box.sibling)/abs"
        case (.symlink, .memberTypeRefused(box.archive, "link", "symbolic link")?): true
        case (.hardlink, .memberTypeRefused(box.archive, "link", "hard link")?): true
        case (.characterDevice, .memberTypeRefused(box.archive, "null", "character device")?): true
        case (.blockDevice, .memberTypeRefused(box.archive, "sda", "block device")?): true
        case (.fifo, .memberTypeRefused(box.archive, "pipe", "fifo")?): true
        case (.duplicate, .duplicateMember("config.dump")?), (.duplicateViaDotSlash, .duplicateMember("config.dump")?): true
        case (.memberOverLimit, .memberTooLarge("checkpoint/pages-1.img", 2 << 20, 1 << 20)?): true
        case (.tooManyMembers, .tooManyMembers(box.archive, 2)?): true
        case (.totalOverLimit, .archiveTooLarge(box.archive, 1 << 20)?): true
        case (.ratioBomb, .compressionRatioExceeded(box.archive, "checkpoint/pages-1.img", 50 << 20 + 2, _, 200)?): true
        case (.sparse, .memberTypeRefused(box.archive, "checkpoint/pages-1.img", "sparse file")?): true
        default: false
        }
    }
}

@Suite("ArchiveExtractor on hostile archives")
struct HostileArchiveTests {
    @Test(arguments: HostileOuter.allCases)
    func refusedNamingTheMemberAndNothingWrittenOutside(_ hostile: HostileOuter) throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, hostile.members(box), filter: hostile.filter)
            let error = archiveError {
                _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target, limits: hostile.limits)
            }
            #expect(hostile.matches(error, box), "\(String(describing: error))")
            try box.expectNothingOutside()
            // The refusal comes before the member's first byte: only the harmless member is there.
            #expect(try listing(box.target).allSatisfy { $0 == "config.dump" || $0 == "a" })
            #expect(fileBytes("\(box.target)/config.dump") == Array("{}".utf8))
        }
    }

    @Test("symlinks: .record lists symbolic links (an image source's) without writing them, even one out of the target and one a file goes through")
    func recordedSymlinksAreListedNotWritten() throws {
        try Sandbox.run { box throws in
            let members: [TarMember] = [
                .file("4caf.tar", "layer"), .symlink("0970/layer.tar", to: "../4caf.tar"), .symlink("out", to: box.sibling), .file("out/x", "x"),
            ]
            try writeTar(box.archive, members)
            let result = try ArchiveExtractor.extract(archive: box.archive, into: box.target, symlinks: .record)
            #expect(result.symlinks == ["0970/layer.tar": "../4caf.tar", "out": box.sibling])
            #expect(result.members.map(\.name) == ["4caf.tar", "0970/layer.tar", "out", "out/x"])
            #expect(try listing(box.target) == ["4caf.tar", "out"], "no link written (nor its directory)")
            #expect(fileBytes(box.target + "/out/x") == Array("x".utf8), "a real directory, not the link")
            try box.expectNothingOutside()
        }
    }

    @Test func theDefaultLimitsRefuseALargeBomb() throws {
        try Sandbox.run { box throws in
            // 1 GiB of zeros: past the 256 MiB slack the default 1000:1 ratio applies.
            try writeTar(box.archive, [TarMember(name: "checkpoint/pages-1.img", kind: .zeros(1 << 30))], filter: .zstd)
            let error = archiveError { _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target) }
            #expect(error?.description.contains("decompression bomb") == true)
            #expect(!FileManager.default.fileExists(atPath: "\(box.target)/checkpoint/pages-1.img"))
        }
    }

    @Test func theRatioBombIsRefusedBeforeDecompressing() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, HostileOuter.ratioBomb.members(box), filter: .zstd)
            let size = try #require(fileBytes(box.archive)).count
            #expect(size < 100_000, "50 MiB of zeros should compress far below the 200:1 limit")
            let error = archiveError {
                _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target, limits: HostileOuter.ratioBomb.limits)
            }
            #expect(error?.description.contains("decompression bomb") == true)
            #expect(error?.description.contains("checkpoint/pages-1.img") == true)
            #expect(!FileManager.default.fileExists(atPath: "\(box.target)/checkpoint"))
        }
    }

    @Test func aHighButAllowedRatioExtracts() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [TarMember(name: "pages-1.img", kind: .zeros(4 << 20))], filter: .zstd)
            let limits = ExtractionLimits(maxCompressionRatio: 100_000)
            let result = try ArchiveExtractor.extract(archive: box.archive, into: box.target, limits: limits)
            #expect(result.members.first?.size == 4 << 20)
        }
    }

    @Test func invalidUTF8NamesAreRefused() throws {
        try Sandbox.run { box throws in
            let name = String(decoding: [0x63, 0xff, 0x2e, 0x69, 0x6d, 0x67], as: UTF8.self)
            // Write the raw bytes through a C string so libarchive stores them unrepaired.
            try writeTarRawName(box.archive, bytes: [0x63, 0xff, 0x2e, 0x69, 0x6d, 0x67])
            let error = archiveError { _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target) }
            guard case .unsafeMemberName(let refused, "not valid UTF-8")? = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(refused == name)
            try box.expectNothingOutside()
        }
    }

    @Test func aFileInTheWayOfADirectoryFailsNamingThePath() throws {
        try Sandbox.run { box throws in
            try writeTar(box.archive, [.file("checkpoint", "not a dir"), .file("checkpoint/core-1.img", "x")])
            let error = archiveError { _ = try ArchiveExtractor.extract(archive: box.archive, into: box.target) }
            #expect(error?.description.contains("\(box.target)/checkpoint") == true, "\(String(describing: error))")
            try box.expectNothingOutside()
        }
    }
}
