import CShims
import CrpodCore

/// Bounds on what one hostile archive may make crpod write. Every limit is checked against the
/// sizes a member header declares, before any of its bytes reach the disk, and the
/// compression-ratio guard also against the decompressed stream actually consumed.
public struct ExtractionLimits: Sendable, Equatable {
    /// Members (every header, directories included).
    public var maxMembers: Int
    /// Declared size of one member.
    public var maxMemberBytes: UInt64
    /// Sum of declared member sizes.
    public var maxTotalBytes: UInt64
    /// Uncompressed bytes allowed per byte of archive on disk …
    public var maxCompressionRatio: UInt64
    /// … plus this slack, so small archives of tiny members are never bombs.
    public var ratioSlackBytes: UInt64

    public init(
        maxMembers: Int = 100_000, maxMemberBytes: UInt64 = 16 << 30, maxTotalBytes: UInt64 = 16 << 30,
        maxCompressionRatio: UInt64 = 1000, ratioSlackBytes: UInt64 = 256 << 20
    ) {
        self.maxMembers = maxMembers
        self.maxMemberBytes = maxMemberBytes
        self.maxTotalBytes = maxTotalBytes
        self.maxCompressionRatio = maxCompressionRatio
        self.ratioSlackBytes = ratioSlackBytes
    }

    /// For a checkpoint archive: 100,000 members, 16 GiB, 1000:1 + 256 MiB. Memory images of
    /// repetitive data really compress near 2000:1, so up to 256 MiB any ratio is accepted;
    /// past that, 1000:1 (zstd of zeros reaches ~30000:1, the bombs this guard is for).
    public static let `default` = ExtractionLimits()

    /// For a rootfs-diff.tar: a container that installed packages has many more, smaller files.
    public static let rootfsDiff = ExtractionLimits(maxMembers: 1_000_000)

    /// The most uncompressed bytes an archive of `compressedBytes` on disk may hold.
    func allowedUncompressed(compressedBytes: UInt64) -> UInt64 {
        let (product, overflow) = compressedBytes.multipliedReportingOverflow(by: maxCompressionRatio)
        if overflow { return .max }
        let (sum, overflowSum) = product.addingReportingOverflow(ratioSlackBytes)
        return overflowSum ? .max : sum
    }
}

/// Running totals of one archive against its limits.
struct ExtractionBudget {
    let limits: ExtractionLimits
    let archive: String
    let compressedBytes: UInt64
    private(set) var members = 0
    private(set) var declaredBytes: UInt64 = 0

    init(limits: ExtractionLimits, archive: String, compressedBytes: UInt64) {
        self.limits = limits
        self.archive = archive
        self.compressedBytes = compressedBytes
    }

    /// Counts a member whose header declares `declaredSize` bytes; `streamPosition` is the
    /// decompressed stream consumed so far. Throws before anything of the member is written.
    mutating func admit(member: String, declaredSize: UInt64, streamPosition: UInt64) throws(ArchiveError) {
        members += 1
        if members > limits.maxMembers {
            throw ArchiveError.tooManyMembers(path: archive, limit: limits.maxMembers)
        }
        if declaredSize > limits.maxMemberBytes {
            throw ArchiveError.memberTooLarge(name: member, size: declaredSize, limit: limits.maxMemberBytes)
        }
        let (sum, overflow) = declaredBytes.addingReportingOverflow(declaredSize)
        declaredBytes = overflow ? .max : sum
        if declaredBytes > limits.maxTotalBytes {
            throw ArchiveError.archiveTooLarge(path: archive, limit: limits.maxTotalBytes)
        }
        try checkRatio(member: member, streamPosition: streamPosition)
    }

    /// The bomb guard: declared sizes (which count sparse holes) or the consumed stream
    /// (which counts headers and padding), whichever is larger.
    func checkRatio(member: String, streamPosition: UInt64) throws(ArchiveError) {
        let uncompressed = max(declaredBytes, streamPosition)
        guard uncompressed > limits.allowedUncompressed(compressedBytes: compressedBytes) else { return }
        throw ArchiveError.compressionRatioExceeded(
            path: archive, member: member, uncompressed: uncompressed, compressed: compressedBytes,
            ratio: limits.maxCompressionRatio)
    }
}

/// Name rules shared by the checkpoint extractor and the rootfs-diff applier.
enum ExtractionName {
    /// The member name as a relative path (`./a/` → `a`), or throws naming the member: empty,
    /// NUL, over 4096 bytes, absolute, `..`, `.` or empty components, or not valid UTF-8.
    static func validated(_ raw: String, validUTF8: Bool) throws(ArchiveError) -> String {
        guard validUTF8 else { throw ArchiveError.unsafeMemberName(name: raw, reason: "not valid UTF-8") }
        let name = CheckpointMember.canonical(raw)
        if let reason = CheckpointMember.unsafeNameReason(name) ?? ArchiveMemberName.problem(with: name) {
            throw ArchiveError.unsafeMemberName(name: raw, reason: reason)
        }
        return name
    }

    /// The raw pathname of a libarchive entry and whether it is valid UTF-8 (the bytes are
    /// what a `String` made from them would open, so invalid ones are refused, not repaired).
    static func raw(_ entry: OpaquePointer) -> (name: String, validUTF8: Bool) {
        guard let pointer = archive_entry_pathname(entry) else {
            return (ArchiveScanner.text(archive_entry_pathname_utf8(entry)) ?? "", false)
        }
        if let text = String(validatingCString: pointer) { return (text, true) }
        return (String(cString: pointer), false)
    }
}
