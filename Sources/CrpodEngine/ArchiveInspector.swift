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
    /// A whole-pod archive's `pod.json` and its members, each inspected as a single-container
    /// archive would be (their problems are also in `problems`); nil for other archives.
    public var pod: PodArchiveDescription?
    public var podMembers: [ArchiveInspection]?
}

public enum ArchiveInspector {
    /// Members whose content the inspector reads (small metadata only).
    static let readMembers: Set<String> = [
        CheckpointMember.config, CheckpointMember.spec, CheckpointMember.manifest, CheckpointMember.statsDump,
        CheckpointMember.inventory, CheckpointMember.dumpLog,
    ]

    /// Whether the archive at `path` is a whole-pod one: its first member is `pod.json`, as
    /// `pod checkpoint --export` writes it (only that header is read, so a large archive is
    /// not decompressed twice). Unreadable: no (the single-container restore then reports
    /// why); a `pod.json` further in is refused there as a whole-pod archive, naming `pod restore`.
    public static func isPodArchive(path: String) async -> Bool {
        guard let file = try? ArchiveFile.open(path: path) else { return false }
        return await isPodArchive(file)
    }

    public static func isPodArchive(_ file: OpenedFile) async -> Bool {
        let first = try? await BlockingThread.run("read \(file.path)") { _ in try ArchiveScanner.firstMemberName(file: file) }
        return first == PodArchiveMember.description
    }

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
            try ArchiveScanner.scan(file: file, keepContentOf: { isMetadata(CheckpointMember.canonical($0)) }, contentLimit: 4 << 20) { member in
                members.append(member.archiveMember)
                if let content = member.content { contents[CheckpointMember.canonical(member.name)] = content }
            }
        }
        var facts = ArchiveFacts(members: members, compression: summary.detection.vocabulary)
        facts.readMetadata(contents)
        if facts.isPodArchive { return (podInspection(path: path, facts: facts, contents: contents, summary: summary), facts) }
        let problems = ArchiveValidator.validate(facts)
        return (inspection(path: path, facts: facts, summary: summary, problems: problems), facts)
    }

    /// The metadata members read: the single-container ones, `pod.json`, `network.status`, and
    /// the single-container ones of each `members/<name>/` of a pod archive.
    static func isMetadata(_ name: String) -> Bool {
        if readMembers.contains(name) || name == PodArchiveMember.description || name == CheckpointMember.networkStatus { return true }
        let parts = name.split(separator: "/", maxSplits: 2)
        return parts.count == 3 && parts[0] == PodArchiveMember.membersDirectory && readMembers.contains(String(parts[2]))
    }

    /// A whole-pod archive: the archive checked as a whole and each member as a
    /// single-container archive (`PodArchiveValidator`).
    static func podInspection(path: String, facts: ArchiveFacts, contents: [String: [UInt8]], summary: ScanSummary) -> ArchiveInspection {
        let pod = PodArchiveFacts(whole: facts, contents: contents)
        var whole = inspection(path: path, facts: facts, summary: summary, problems: PodArchiveValidator.validate(pod))
        whole.pod = pod.description
        whole.podMembers = pod.description?.members.compactMap { member in
            pod.members[member.name].map { view in
                inspection(path: path + ":" + member.directory, facts: view, summary: summary, problems: ArchiveValidator.validate(view))
            }
        }
        return whole
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
