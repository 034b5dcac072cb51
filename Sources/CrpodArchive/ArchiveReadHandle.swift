#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodLinux

/// One libarchive reader over one file. Not Sendable: it is created, used and freed inside a
/// single function call (`ArchiveScanner.scan`, `CompressionMethod.detect`).
final class ArchiveReadHandle {
    let path: String
    let fileSize: UInt64
    private let archive: OpaquePointer
    private let fd: Int32

    /// Reads `file` (`raw`: as one decompressed stream, not a tar) through a second open file description of it (its own offset), so the
    /// caller's fd stays usable for the next reader.
    init(file: OpenedFile, raw: Bool = false) throws(ArchiveError) {
        self.path = file.path
        self.fileSize = file.size
        let fd = try io { () throws(LinuxError) in try file.reopen() }
        guard let archive = archive_read_new() else {
            close(fd)
            throw ArchiveError.libarchive(operation: "archive_read_new", path: path, message: "out of memory")
        }
        self.fd = fd
        self.archive = archive
        // Only in-process decompressors: `support_filter_all` would also enable filters that
        // run an external program (lrzip, lzop, grzip) on hostile input.
        archive_read_support_filter_gzip(archive)
        archive_read_support_filter_zstd(archive)
        archive_read_support_filter_xz(archive)
        archive_read_support_filter_bzip2(archive)
        archive_read_support_filter_lz4(archive)
        // raw: the decompressed stream as one member (an image layer's diff ID is its digest).
        if raw { archive_read_support_format_raw(archive) } else { archive_read_support_format_tar(archive) }
        guard archive_read_open_fd(archive, fd, 1 << 16) == ARCHIVE_OK else {
            throw error("open archive")
        }
    }

    deinit {
        archive_read_free(archive)
        close(fd)
    }

    /// The next member's entry, valid until the next call; nil at the end of the archive.
    func nextHeader(operation: String = "read header") throws(ArchiveError) -> OpaquePointer? {
        var entry: OpaquePointer?
        let rc = archive_read_next_header(archive, &entry)
        if rc == ARCHIVE_EOF { return nil }
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry else { throw error(operation) }
        return entry
    }

    /// Reads the current member's data; 0 at its end.
    func readData(into buffer: UnsafeMutableRawBufferPointer, operation: String = "read data") throws(ArchiveError) -> Int {
        let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
        if n < 0 { throw error(operation) }
        return n
    }

    /// Skips the current member's data without decompressing more than needed.
    func skipData() throws(ArchiveError) {
        let rc = archive_read_data_skip(archive)
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else { throw error("skip data") }
    }

    /// Bytes of decompressed tar stream consumed so far (headers, data, padding): what a
    /// decompression-bomb guard compares with `fileSize`.
    var uncompressedPosition: UInt64 {
        UInt64(max(0, archive_filter_bytes(archive, 0)))
    }

    /// Filters libarchive stacked on the stream (outermost first) and the tar flavour.
    func detection() -> CompressionMethod.Detection {
        let count = archive_filter_count(archive)
        var names: [String] = []
        var codes: [Int32] = []
        for index in 0..<max(0, count) where archive_filter_code(archive, index) != ARCHIVE_FILTER_NONE {
            codes.append(archive_filter_code(archive, index))
            names.append(archive_filter_name(archive, index).map { String(cString: $0) } ?? "filter \(codes.last ?? -1)")
        }
        let compression: CompressionMethod? = switch codes.count {
        case 0: CompressionMethod.none
        case 1: CompressionMethod(filterCode: codes[0])
        default: nil
        }
        let format = archive_format_name(archive).map { String(cString: $0) }
        return .init(compression: compression, filterNames: names.isEmpty ? ["none"] : names, formatName: format)
    }

    /// libarchive's message for the last failure, with errno when it recorded one.
    func error(_ operation: String) -> ArchiveError {
        ArchiveError.libarchive(operation: operation, path: path, message: libarchiveMessage(archive))
    }
}

/// libarchive's error string plus its errno, for any `struct archive *`.
func libarchiveMessage(_ archive: OpaquePointer) -> String {
    let text = archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
    let code = archive_errno(archive)
    guard code > 0 else { return text }
    return "\(text) (errno \(code): \(String(cString: strerror(code))))"
}
