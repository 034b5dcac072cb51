#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux

/// What `crpod archive inspect` reports. Made by streaming the archive once, in memory:
/// nothing is extracted to disk and no root is needed.
public struct ArchiveInspection: Sendable, Codable {
    public var path: String
    public var engine: String
    public var compression: String
    public var compressedBytes: UInt64
    public var uncompressedBytes: UInt64
    public var containerName: String?
    public var containerID: String?
    public var podID: String?
    public var podName: String?
    /// /proc names of the namespaces the container shared with its pod.
    public var sharedNamespaces: [String]
    public var runtime: String?
    public var criuVersion: String?
    public var imageVersion: UInt32?
    public var rootfs: String?
    public var dependencies: [String]
    public var statistics: CRIUDumpStats?
    public var members: [ArchiveMember]
    public var valid: Bool
    public var problems: [ArchiveProblem]
}

public enum ArchiveInspector {
    /// Members whose content the inspector reads (small metadata only).
    static let readMembers: Set<String> = [
        CheckpointMember.config, CheckpointMember.spec, CheckpointMember.manifest, CheckpointMember.statsDump,
        CheckpointMember.inventory, CheckpointMember.dumpLog,
    ]

    /// Scans the archive and validates it. Unreadable archives (truncated, not an archive)
    /// throw; readable ones with problems are reported with every problem listed.
    public static func inspect(path: String) throws -> (ArchiveInspection, ArchiveFacts) {
        try inspect(file: try step("open archive \(path)") { try ArchiveFile.open(path: path) })
    }

    /// `inspect` of an archive already opened (and checked) as `file`. Blocking: call it off
    /// the cooperative pool (`BlockingThread`).
    public static func inspect(file: OpenedFile) throws -> (ArchiveInspection, ArchiveFacts) {
        let path = file.path
        var members: [ArchiveMember] = []
        var contents: [String: [UInt8]] = [:]
        let summary = try step("read archive \(path)") {
            try ArchiveScanner.scan(file: file, keepContentOf: { readMembers.contains(CheckpointMember.canonical($0)) }, contentLimit: 4 << 20) { member in
                members.append(member.archiveMember)
                if let content = member.content { contents[CheckpointMember.canonical(member.name)] = content }
            }
        }
        var facts = ArchiveFacts(members: members, compression: summary.detection.vocabulary)
        if let bytes = contents[CheckpointMember.config] { facts.readConfig(Data(bytes)) }
        if let bytes = contents[CheckpointMember.spec] { facts.readSpec(Data(bytes)) }
        if let bytes = contents[CheckpointMember.manifest] { facts.readManifest(Data(bytes)) }
        if let bytes = contents[CheckpointMember.statsDump] { facts.readStats(bytes) }
        if let bytes = contents[CheckpointMember.inventory] { facts.readInventory(bytes) }
        if let bytes = contents[CheckpointMember.dumpLog] { facts.readDumpLog(String(decoding: bytes, as: UTF8.self)) }
        let problems = ArchiveValidator.validate(facts)
        return (inspection(path: path, facts: facts, summary: summary, problems: problems), facts)
    }

    static func inspection(path: String, facts: ArchiveFacts, summary: ScanSummary, problems: [ArchiveProblem]) -> ArchiveInspection {
        let config = facts.config
        let section = try? config?.decodeCrpod()
        return ArchiveInspection(
            path: path, engine: facts.engine.rawValue, compression: summary.detection.vocabulary.rawValue,
            compressedBytes: summary.compressedBytes, uncompressedBytes: summary.totalUncompressedBytes,
            containerName: config?.name, containerID: config?.id, podID: config?.pod, podName: section?.podName,
            sharedNamespaces: (config?.sharedNamespaceOwners.keys).map { Array($0).sorted() } ?? [],
            runtime: config?.runtime, criuVersion: facts.criuVersion?.text ?? section?.criuVersion.map(versionText),
            imageVersion: facts.imageVersion, rootfs: config?.rootfsImageName ?? config?.rootfs ?? section?.rootfs,
            dependencies: config?.dependencies ?? [], statistics: facts.stats?.dump,
            members: facts.members, valid: problems.isEmpty, problems: problems)
    }

    static func versionText(_ number: Int) -> String {
        "\(number / 10000).\(number / 100 % 100).\(number % 100)"
    }
}
