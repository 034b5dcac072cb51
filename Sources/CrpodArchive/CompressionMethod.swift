import CShims

/// The compressions crpod writes. Podman writes the same three (`--compress zstd|gzip|none`).
public enum CompressionMethod: String, Sendable, Codable, CaseIterable {
    case zstd, gzip, none

    /// The file-name suffix podman uses for an export with this compression.
    public var fileExtension: String {
        switch self {
        case .zstd: return "tar.zst"
        case .gzip: return "tar.gz"
        case .none: return "tar"
        }
    }

    /// Maps libarchive's filter code to a compression crpod writes, nil for anything else (xz …).
    public init?(filterCode: Int32) {
        switch filterCode {
        case ARCHIVE_FILTER_ZSTD: self = .zstd
        case ARCHIVE_FILTER_GZIP: self = .gzip
        case ARCHIVE_FILTER_NONE: self = .none
        default: return nil
        }
    }

    /// What libarchive found on an existing archive.
    public struct Detection: Sendable, Equatable {
        /// nil when the filter is not one crpod writes (xz, bzip2, lz4, or nested filters).
        public var compression: CompressionMethod?
        /// libarchive's filter names, outermost first, e.g. `["zstd"]`, `["none"]`, `["xz"]`.
        public var filterNames: [String]
        /// libarchive's format name, e.g. "POSIX pax interchange format" (nil for an empty archive).
        public var formatName: String?

        /// The outermost filter name ("none" for a plain tar).
        public var filterName: String { filterNames.first ?? "none" }

        /// The compression, or `.compressionUnknown` naming the filter.
        public func required() throws(ArchiveError) -> CompressionMethod {
            guard let compression else { throw ArchiveError.compressionUnknown(filterNames.joined(separator: "+")) }
            return compression
        }
    }

    /// Detects the compression of the archive at `path` by reading its first header.
    public static func detect(path: String) throws(ArchiveError) -> Detection {
        let reader = try ArchiveReadHandle(file: try ArchiveFile.open(path: path))
        _ = try reader.nextHeader()
        return reader.detection()
    }
}
