import CShims
import CrpodLinux

/// One member of an archive as the scanner saw it.
public struct ScannedMember: Sendable, Equatable {
    public enum MemberType: Sendable, Equatable {
        case file, directory, symlink, hardlink
        /// Anything else (character/block device, fifo, socket) with libarchive's file type bits.
        case other(fileType: UInt32)
    }

    /// The name as stored, with a directory's trailing `/` removed. Not validated: pass it to
    /// `ArchiveMemberName.problem(with:)` before using it as a path.
    public var name: String
    public var type: MemberType
    /// Size from the header (0 for anything but regular files).
    public var size: UInt64
    /// Permission bits (0o7777).
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    /// Symlink target or hardlink source.
    public var linkTarget: String?
    /// Lowercase hex SHA-256 of the content, regular files only.
    public var sha256: String?
    /// The content, when `keepContentOf(name)` and size ≤ `contentLimit`.
    public var content: [UInt8]?
}

/// What a scan found about the archive as a whole.
public struct ScanSummary: Sendable, Equatable {
    public var detection: CompressionMethod.Detection
    public var memberCount: Int
    /// Sum of the header sizes of all members.
    public var totalUncompressedBytes: UInt64
    /// The archive file's size on disk.
    public var compressedBytes: UInt64

    public var compression: CompressionMethod? { detection.compression }
    public var filterName: String { detection.filterName }
}

/// Streams a whole archive — decompressing, hashing every regular file, never writing to disk.
/// Archives from elsewhere are hostile: limits bound members and bytes, errors name the path.
public enum ArchiveScanner {
    public static let defaultMaxMembers = 1_000_000
    public static let defaultMaxTotalBytes: UInt64 = 64 << 30

    public static func scan(
        path: String,
        keepContentOf: (String) -> Bool = { _ in false },
        contentLimit: Int = 1 << 20,
        maxMembers: Int = defaultMaxMembers,
        maxTotalBytes: UInt64 = defaultMaxTotalBytes,
        visit: (ScannedMember) throws -> Void
    ) throws -> ScanSummary {
        try scan(file: try ArchiveFile.open(path: path), keepContentOf: keepContentOf, contentLimit: contentLimit,
                 maxMembers: maxMembers, maxTotalBytes: maxTotalBytes, visit: visit)
    }

    /// `scan` of an archive already opened (and checked) as `file`.
    public static func scan(
        file: OpenedFile,
        keepContentOf: (String) -> Bool = { _ in false },
        contentLimit: Int = 1 << 20,
        maxMembers: Int = defaultMaxMembers,
        maxTotalBytes: UInt64 = defaultMaxTotalBytes,
        visit: (ScannedMember) throws -> Void
    ) throws -> ScanSummary {
        let path = file.path
        let reader = try ArchiveReadHandle(file: file)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var count = 0
        var total: UInt64 = 0
        while let entry = try reader.nextHeader() {
            count += 1
            if count > maxMembers { throw ArchiveError.tooManyMembers(path: path, limit: maxMembers) }
            var (member, declared) = describe(entry)
            total += declared
            if total > maxTotalBytes { throw ArchiveError.archiveTooLarge(path: path, limit: maxTotalBytes) }
            if member.type == .file {
                let keep = keepContentOf(member.name) && member.size <= UInt64(max(0, contentLimit))
                try readContent(reader, into: &member, keep: keep, limit: member.size, buffer: buffer)
            } else {
                try reader.skipData()
            }
            try visit(member)
        }
        return ScanSummary(
            detection: reader.detection(), memberCount: count,
            totalUncompressedBytes: total, compressedBytes: reader.fileSize)
    }

    /// The name of the archive's first member (nil for an empty archive), read without
    /// decompressing anything past its header.
    public static func firstMemberName(file: OpenedFile) throws -> String? {
        let reader = try ArchiveReadHandle(file: file)
        guard let entry = try reader.nextHeader() else { return nil }
        return describe(entry).0.name
    }

    /// Hashes (and optionally keeps) the current member's data; never more than `limit` bytes.
    private static func readContent(
        _ reader: ArchiveReadHandle, into member: inout ScannedMember, keep: Bool, limit: UInt64,
        buffer: UnsafeMutableRawBufferPointer
    ) throws(ArchiveError) {
        let hasher = try SHA256Hasher()
        var content: [UInt8] = []
        var seen: UInt64 = 0
        while true {
            let n = try reader.readData(into: buffer)
            if n == 0 { break }
            seen += UInt64(n)
            if seen > limit { throw ArchiveError.memberTooLarge(name: member.name, size: seen, limit: limit) }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            hasher.update(chunk)
            if keep { content.append(contentsOf: chunk) }
        }
        member.sha256 = try hasher.finalize()
        if keep { member.content = content }
    }

    /// The member and its declared size (counted against the total even when no data is read).
    static func describe(_ entry: OpaquePointer) -> (ScannedMember, UInt64) {
        var name = text(archive_entry_pathname(entry)) ?? text(archive_entry_pathname_utf8(entry)) ?? ""
        let fileType = UInt32(archive_entry_filetype(entry)) & crpod_ae_ifmt
        let hardlink = text(archive_entry_hardlink(entry))
        let type: ScannedMember.MemberType
        switch fileType {
        case _ where hardlink != nil: type = .hardlink
        case crpod_ae_ifreg: type = .file
        case crpod_ae_ifdir: type = .directory
        case crpod_ae_iflnk: type = .symlink
        default: type = .other(fileType: fileType)
        }
        if type == .directory, name.count > 1, name.hasSuffix("/") { name.removeLast() }
        let declared = UInt64(max(0, archive_entry_size_is_set(entry) != 0 ? archive_entry_size(entry) : 0))
        let member = ScannedMember(
            name: name, type: type,
            size: type == .file ? declared : 0,
            mode: UInt32(archive_entry_perm(entry)) & 0o7777,
            uid: archive_entry_uid(entry), gid: archive_entry_gid(entry),
            linkTarget: hardlink ?? (type == .symlink ? text(archive_entry_symlink(entry)) : nil),
            sha256: nil, content: nil)
        return (member, declared)
    }

    static func text(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
