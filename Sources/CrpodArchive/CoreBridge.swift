import CrpodCore

// Conversions to the pure domain's archive vocabulary (CrpodCore's `ArchiveFacts`), so an
// inspector can feed scanner output to the validator.
//
// CrpodCore also declares a type named `CompressionMethod` (a string-backed vocabulary that
// keeps unknown filters). They are different types:
// ``CompressionMethod` (what the writer takes) and `CrpodCore.ArchiveCompression`.

extension CompressionMethod {
    /// The same compression in CrpodCore's vocabulary.
    public var vocabulary: CrpodCore.ArchiveCompression { .init(rawValue: rawValue) }
}

extension CompressionMethod.Detection {
    /// The outermost filter in CrpodCore's vocabulary ("xz", "bzip2" … round-trip as text).
    public var vocabulary: CrpodCore.ArchiveCompression {
        compression?.vocabulary ?? .init(rawValue: filterNames.joined(separator: "+"))
    }
}

extension ScannedMember {
    /// The member as CrpodCore's validator sees it.
    public var archiveMember: ArchiveMember {
        let kind: ArchiveMemberType
        var detail: String?
        switch type {
        case .file: kind = .file
        case .directory: kind = .directory
        case .symlink: kind = .symlink
        case .hardlink: kind = .hardlink
        case let .other(fileType):
            kind = .other
            detail = Self.describe(fileType: fileType)
        }
        return ArchiveMember(
            name: name, size: Int64(clamping: size), type: kind, linkTarget: linkTarget,
            sha256: sha256, typeDetail: detail)
    }

    static func describe(fileType: UInt32) -> String {
        switch fileType {
        case 0o020000: return "character device"
        case 0o060000: return "block device"
        case 0o010000: return "fifo"
        case 0o140000: return "socket"
        default: return "file type 0o\(String(fileType, radix: 8))"
        }
    }
}
