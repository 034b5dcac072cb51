// fuzz-archive: the input as a checkpoint archive file (tar, plain or gzip/zstd/xz/bzip2/lz4
// compressed), through both readers crpod has for hostile archives:
// - ArchiveScanner.scan (what `crpod archive inspect` does), then ArchiveFacts and
//   ArchiveValidator on what it saw, as ArchiveInspector.inspect does;
// - ArchiveExtractor.extract into a fresh directory (what a restore import does), then the
//   same facts and validation as Engine.extractAndValidate, and a look at the tree it wrote.
// The input file and the extracted tree live in a per-process scratch directory under
// $TMPDIR and are removed after every input.
//
// Properties:
// - extract-scan-agree: an archive the extractor accepts, the scanner reads too, and both
//   report every regular member with the same size and SHA-256;
// - extract-on-disk: the tree on disk holds only regular files and directories, exactly the
//   regular files the extractor reported (by name, byte for byte), with their sizes, and
//   the kept contents are what is on disk.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux
import FuzzSupport

/// Limits small enough that a few-KB input cannot make the extractor write much; the
/// ratio guard keeps its real ratio but far less slack, so the bomb check is reachable.
let limits = ExtractionLimits(
    maxMembers: 2000, maxMemberBytes: 16 << 20, maxTotalBytes: 32 << 20, maxCompressionRatio: 1000,
    ratioSlackBytes: 1 << 20)

/// The members whose content ArchiveInspector / the restore import read.
let readMembers: Set<String> = [
    CheckpointMember.config, CheckpointMember.spec, CheckpointMember.manifest, CheckpointMember.statsDump,
    CheckpointMember.inventory, CheckpointMember.dumpLog, CheckpointMember.deletedFiles,
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let archive = Scratch.write(UnsafeBufferPointer(start: data, count: size), label: "archive")
    defer { Scratch.remove(archive) }
    _ = try? CompressionMethod.detect(path: archive)
    let scanned = scan(archive)
    let target = Scratch.freshPath("extracted")
    defer { Scratch.remove(target) }
    guard let result = try? ArchiveExtractor.extract(
        archive: archive, into: target, limits: limits, keepContentOf: { readMembers.contains($0) },
        contentLimit: 1 << 20)
    else { return 0 }
    _ = validate(members: result.members, contents: result.contents, detection: result.summary.detection)
    compare(result, scanned: scanned)
    checkTree(target, result)
    return 0
}

/// ArchiveInspector.inspect: scan, then facts and validation. Returns the scanned members.
func scan(_ archive: String) -> [ScannedMember]? {
    var members: [ScannedMember] = []
    var contents: [String: [UInt8]] = [:]
    do {
        let summary = try ArchiveScanner.scan(
            path: archive, keepContentOf: { readMembers.contains(CheckpointMember.canonical($0)) },
            contentLimit: 1 << 20, maxMembers: 10_000, maxTotalBytes: 64 << 20
        ) { member in
            members.append(member)
            if let content = member.content { contents[CheckpointMember.canonical(member.name)] = content }
        }
        _ = (summary.compression, summary.filterName, summary.memberCount, summary.totalUncompressedBytes)
        _ = validate(members: members, contents: contents, detection: summary.detection)
        return members
    } catch {
        _ = String(describing: error)
        return nil
    }
}

/// ArchiveFacts from members and contents, then ArchiveValidator (as the inspector and the
/// restore import do).
func validate(members: [ScannedMember], contents: [String: [UInt8]], detection: CompressionMethod.Detection) -> [ArchiveProblem] {
    var facts = ArchiveFacts(members: members.map(\.archiveMember), compression: detection.vocabulary)
    if let bytes = contents[CheckpointMember.config] { facts.readConfig(Data(bytes)) }
    if let bytes = contents[CheckpointMember.spec] { facts.readSpec(Data(bytes)) }
    if let bytes = contents[CheckpointMember.manifest] { facts.readManifest(Data(bytes)) }
    if let bytes = contents[CheckpointMember.statsDump] { facts.readStats(bytes) }
    if let bytes = contents[CheckpointMember.inventory] { facts.readInventory(bytes) }
    if let bytes = contents[CheckpointMember.dumpLog] { facts.readDumpLog(String(decoding: bytes, as: UTF8.self)) }
    if let bytes = contents[CheckpointMember.deletedFiles] { _ = try? JSONDecoder().decode([String].self, from: Data(bytes)) }
    _ = facts.engine
    let problems = ArchiveValidator.validate(facts)
    _ = problems.map(\.message)
    return problems
}

func compare(_ result: ExtractionResult, scanned: [ScannedMember]?) {
    guard let scanned else {
        Property.check(false, "extract-scan-agree", "the extractor accepted an archive the scanner refuses")
        return
    }
    var scannedFiles: [String: ScannedMember] = [:]
    for member in scanned where member.type == .file {
        scannedFiles[CheckpointMember.canonical(member.name)] = member
    }
    for member in result.members where member.type == .file {
        guard let seen = scannedFiles[member.name] else {
            Property.check(false, "extract-scan-agree", "extracted \(member.name), which the scanner did not report as a file")
            continue
        }
        Property.check(seen.size == member.size && seen.sha256 == member.sha256, "extract-scan-agree",
                       "\(member.name): scanner \(seen.size) bytes \(seen.sha256 ?? "-"), extractor \(member.size) bytes \(member.sha256 ?? "-")")
    }
}

func checkTree(_ target: String, _ result: ExtractionResult) {
    let tree = Scratch.walk(target)
    var onDisk: [[UInt8]: TreeEntry] = [:]
    for entry in tree {
        Property.check(entry.isDirectory || entry.isRegularFile, "extract-on-disk",
                       "\(String(decoding: entry.path, as: UTF8.self)) has file type 0o\(String(entry.type, radix: 8))")
        if entry.isRegularFile { onDisk[entry.path] = entry }
    }
    let files = result.members.filter { $0.type == .file }
    Property.check(files.count == onDisk.count, "extract-on-disk",
                   "\(files.count) regular members reported, \(onDisk.count) files on disk: "
                       + "\(files.map(\.name)) vs \(onDisk.keys.map { String(decoding: $0, as: UTF8.self) })")
    for member in files {
        guard let entry = onDisk[Array(member.name.utf8)] else {
            Property.check(false, "extract-on-disk", "member \(Array(member.name.utf8)) is not on disk under its name")
            continue
        }
        Property.check(UInt64(entry.size) == member.size, "extract-on-disk",
                       "\(member.name): \(entry.size) bytes on disk, \(member.size) reported")
    }
    for (name, kept) in result.contents {
        Property.check(Scratch.read(target + "/" + name) == kept, "extract-on-disk", "kept content of \(name) differs from the file")
    }
}
