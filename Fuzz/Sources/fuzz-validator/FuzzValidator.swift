// fuzz-validator: CrpodCore's checkpoint readers and ArchiveValidator on raw bytes.
//
// Every input goes through three doors, each cheap to refuse what it does not understand:
// 1. the CRIU image decoders (stats, inventory, pstree, utsns decode + rewrite, files,
//    ipcns-shm), the dump.log version scan and the member-name rules;
// 2. the input as each metadata member of one archive (config.dump, spec.dump,
//    crpod-manifest.json, stats-dump, inventory.img, dump.log), then ArchiveValidator;
// 3. the input as an ArchiveFacts JSON document (its Codable form: what an inspector
//    learned), validated and round-tripped.
//
// Properties: link-escapes (linkEscapes agrees with the same walk over '/' bytes), utsns-rewrite (the rewritten image decodes to the new nodename and the kept
// domainname), pstree-pids (allPIDs is sorted, unique, holds every pid/thread, and
// helperPIDs is a subset), member-canonical (canonical is idempotent and isRoot agrees
// with it), facts-roundtrip (ArchiveFacts survives encode -> decode), config-crpod (a
// crpod section that decodes also validates without an invalid-crpod-section problem).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    images(bytes)
    names(text)
    members(bytes, text: text)
    factsDocument(bytes)
    return 0
}

// MARK: - CRIU images

func images(_ bytes: [UInt8]) {
    _ = try? CRIUStatsDecoder.decode(bytes)
    _ = try? CRIUStatsDecoder.decodeStats(bytes, image: "stats-restore")
    if let inventory = try? CRIUInventoryDecoder.decode(bytes) { _ = inventory.lsmName }
    if let pstree = try? CRIUPstree.decode(bytes) { checkPstree(pstree) }
    _ = try? CRIUFiles.rootDirectoryMode(bytes)
    if let segments = try? CRIUIPCImages.shmSegments(bytes) {
        for segment in segments { _ = CRIUIPCImages.shmemPagemapImage(segmentID: segment.id) }
    }
    if let uts = try? CRIUUtsns.decode(bytes) { checkUtsns(bytes, uts) }
    // Each decoder also with the magic words (and head) it expects in front of the input,
    // so mutations of the entry itself are not wasted on the magic check.
    let common = word(CRIUMagic.common)
    _ = try? CRIUStatsDecoder.decode(word(CRIUMagic.service) + word(CRIUMagic.stats) + bytes)
    _ = try? CRIUInventoryDecoder.decode(word(CRIUMagic.inventory) + bytes)
    if let pstree = try? CRIUPstree.decode(common + word(CRIUMagic.pstree) + bytes) { checkPstree(pstree) }
    _ = try? CRIUFiles.rootDirectoryMode(common + word(CRIUMagic.files) + bytes)
    _ = try? CRIUIPCImages.shmSegments(common + word(CRIUMagic.ipcnsShm) + bytes)
    let utsImage = common + word(CRIUMagic.utsns) + bytes
    if let uts = try? CRIUUtsns.decode(utsImage) { checkUtsns(utsImage, uts) }
}

func word(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
}

func checkPstree(_ pstree: CRIUPstree) {
    let all = pstree.allPIDs
    Property.check(all == Array(Set(all)).sorted(), "pstree-pids", "allPIDs not sorted/unique: \(all)")
    let set = Set(all)
    for entry in pstree.entries {
        Property.check(set.contains(entry.pid) && entry.threads.allSatisfy(set.contains), "pstree-pids", "\(entry)")
    }
    Property.check(Set(pstree.helperPIDs).isSubset(of: set), "pstree-pids", "helpers \(pstree.helperPIDs)")
    if let root = pstree.root { Property.check(root.ppid == 0, "pstree-pids", "root \(root)") }
}

func checkUtsns(_ image: [UInt8], _ original: CRIUUtsnsEntry) {
    do {
        let renamed = try CRIUUtsns.rewrite(image, nodename: "fuzz-host")
        let again = try CRIUUtsns.decode(renamed)
        Property.check(again.nodename == "fuzz-host" && again.domainname == original.domainname,
                       "utsns-rewrite", "rewrite gave \(again), expected fuzz-host/\(original.domainname)")
        let both = try CRIUUtsns.rewrite(image, nodename: original.domainname, domainname: "(none)")
        let third = try CRIUUtsns.decode(both)
        Property.check(third.nodename == original.domainname && third.domainname == "(none)",
                       "utsns-rewrite", "rewrite with domainname gave \(third)")
    } catch {
        Property.check(false, "utsns-rewrite", "an image that decodes cannot be rewritten: \(error)")
    }
}

// MARK: - Member names

func names(_ text: String) {
    let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    let name = String(parts[0])
    let target = parts.count > 1 ? String(parts[1]) : "../x"
    let canonical = CheckpointMember.canonical(name)
    Property.check(CheckpointMember.canonical(canonical) == canonical, "member-canonical", "\(Array(name.utf8))")
    _ = CheckpointMember.unsafeNameReason(name)
    _ = CheckpointMember.isRoot(name)
    for hard in [false, true] {
        let escapes = CheckpointMember.linkEscapes(member: name, target: target, isHardLink: hard)
        if !escapes {
            Property.check(!escapesByBytes(member: name, target: target, isHardLink: hard), "link-escapes",
                           "\(hard ? "hard link" : "symlink") \(Array(name.utf8)) -> \(Array(target.utf8)) leaves the root "
                               + "when split on '/' bytes, as the kernel does")
        }
    }
    _ = CRIUIPCImages.isIPCObjectImage(name)
    _ = CRIUIPCImages.isIPCVariablesImage(name)
    _ = CRIUUtsns.isUtsnsImage(name)
    _ = CRIULogVersion.parse(text)
}

/// CheckpointMember.linkEscapes over bytes: the kernel splits paths on the byte '/'.
func escapesByBytes(member: String, target: String, isHardLink: Bool) -> Bool {
    let slash = UInt8(ascii: "/")
    if target.isEmpty || target.utf8.first == slash { return true }
    var depth = 0
    if !isHardLink {
        depth = Array(CheckpointMember.canonical(member).utf8).split(separator: slash).count - 1
    }
    for component in Array(target.utf8).split(separator: slash) {
        switch Array(component) {
        case [0x2E]: continue
        case [0x2E, 0x2E]: depth -= 1
        default: depth += 1
        }
        if depth < 0 { return true }
    }
    return false
}

// MARK: - The input as each member

let requiredMembers = [
    ArchiveMember(name: "config.dump", size: 10, type: .file, sha256: String(repeating: "a", count: 64)),
    ArchiveMember(name: "spec.dump", size: 10, type: .file),
    ArchiveMember(name: "checkpoint", type: .directory),
    ArchiveMember(name: "checkpoint/inventory.img", size: 10, type: .file),
    ArchiveMember(name: "stats-dump", size: 10, type: .file),
]

func members(_ bytes: [UInt8], text: String) {
    let data = Data(bytes)
    var facts = ArchiveFacts(members: requiredMembers, compression: .zstd)
    facts.readConfig(data)
    facts.readSpec(data)
    facts.readStats(bytes)
    facts.readInventory(bytes)
    facts.readDumpLog(text)
    _ = facts.imageVersion
    _ = facts.engine
    var problems = ArchiveValidator.validate(facts)
    if let config = facts.config { checkConfig(config, problems) }
    // As a crpod archive with the input as its manifest (last member).
    facts.members.append(ArchiveMember(name: "./crpod-manifest.json", size: Int64(bytes.count), type: .file))
    facts.readManifest(data)
    problems = ArchiveValidator.validate(facts)
    _ = problems.map(\.description)
}

func checkConfig(_ config: CheckpointConfig, _ problems: [ArchiveProblem]) {
    _ = config.dependenciesOutsidePod
    if let section = try? config.decodeCrpod() {
        Property.check(!problems.contains { $0.code == ArchiveProblem.Code.invalidCrpodSection }, "config-crpod",
                       "section \(section) decodes but the validator says it cannot be read")
        Property.check(config.crpod == section, "config-crpod", "crpod getter disagrees with decodeCrpod")
    }
}

// MARK: - ArchiveFacts documents

func factsDocument(_ bytes: [UInt8]) {
    guard let facts = try? JSONDecoder().decode(ArchiveFacts.self, from: Data(bytes)) else { return }
    let problems = ArchiveValidator.validate(facts)
    _ = facts.engine
    _ = facts.member(named: CheckpointMember.config)
    if let config = facts.config { checkConfig(config, problems) }
    do {
        let encoded = try JSONEncoder().encode(facts)
        let again = try JSONDecoder().decode(ArchiveFacts.self, from: encoded)
        Property.check(again == facts, "facts-roundtrip", "ArchiveFacts changed through encode -> decode")
        Property.check(ArchiveValidator.validate(again) == problems, "facts-roundtrip", "problems changed")
    } catch {
        Property.check(false, "facts-roundtrip", "\(error)")
    }
}
