import CrpodLinux

/// The one error type of CrpodArchive. Every case names what failed and where; `description`
/// is a single line for a log or a CLI message.
public enum ArchiveError: Error, CustomStringConvertible {
    /// libarchive refused an operation; `message` is its error string (with errno when it set one).
    case libarchive(operation: String, path: String, message: String)
    /// A system call failed (open, read, fsync, rename …); the Linux error keeps op, path, errno.
    case io(LinuxError)
    /// OpenSSL could not set up or run a SHA-256 digest.
    case digest(operation: String)
    /// A member name that is absolute, climbs out with `..`, or is otherwise not a plain relative path.
    case unsafeMemberName(name: String, reason: String)
    /// A member name given twice to one writer.
    case duplicateMember(name: String)
    /// A member whose content grew past a limit while it was being read.
    case memberTooLarge(name: String, size: UInt64, limit: UInt64)
    /// An archive with more members than the caller allows.
    case tooManyMembers(path: String, limit: Int)
    /// An archive whose members add up to more bytes than the caller allows.
    case archiveTooLarge(path: String, limit: UInt64)
    /// A file that shrank between stat and read, so its tar header would lie.
    case fileChanged(path: String, expected: UInt64, read: UInt64)
    /// `addFile` was given something that is not a regular file.
    case notARegularFile(path: String)
    /// A directory tree nested deeper than the walker follows.
    case treeTooDeep(path: String, limit: Int)
    /// An archive compressed with a filter crpod does not write (bzip2, lz4, nested filters …).
    case compressionUnknown(String)
    /// The writer was used after `finish`, `abort` or a failure that poisoned the temp file.
    case writerClosed(path: String)
    /// A manifest could not be encoded or decoded.
    case manifest(path: String, detail: String)
    /// A member of `path` whose type the extractor does not write (a symlink, hard link,
    /// device, fifo, socket or sparse file in a checkpoint; a device in a rootfs diff).
    case memberTypeRefused(path: String, member: String, type: String)
    /// A hard link in `path` whose target is not a safe relative name inside the extraction root.
    case unsafeLinkTarget(path: String, member: String, target: String, reason: String)
    /// `path` decompresses to more than `ratio` × its size on disk (plus slack): a decompression
    /// bomb. `uncompressed` is what was declared or read when `member` was reached.
    case compressionRatioExceeded(path: String, member: String, uncompressed: UInt64, compressed: UInt64, ratio: UInt64)
    /// An extraction target that exists and is not an empty directory.
    case targetNotEmpty(path: String)
    /// A `deleted.files` entry that is not a safe path inside the upper directory.
    case unsafeDeletedPath(path: String, reason: String)
    /// The caller cancelled a long read (`operation` on `path`) before it finished.
    case cancelled(operation: String, path: String)
    /// A `deleted.files` entry whose place in the upper directory already holds something
    /// other than a whiteout (the rootfs diff wrote it).
    case deletedPathConflict(path: String, existing: String)
    /// Content whose SHA-256 (or size) is not the one its descriptor names: `what` says
    /// which blob or layer, `path` where it was read.
    case digestMismatch(what: String, path: String, expected: String, actual: String)
    /// An OCI whiteout in an image layer that cannot be applied safely.
    case unsafeWhiteout(path: String, member: String, reason: String)

    public var description: String {
        switch self {
        case let .libarchive(operation, path, message):
            return "\(operation) \(path): \(oneLine(message))"
        case let .io(error):
            return error.description
        case let .digest(operation):
            return "sha256 \(operation) failed (OpenSSL)"
        case let .unsafeMemberName(name, reason):
            return "unsafe archive member name \(String(reflecting: name)): \(reason)"
        case let .duplicateMember(name):
            return "archive member \(String(reflecting: name)) appears twice"
        case let .memberTooLarge(name, size, limit):
            return "archive member \(String(reflecting: name)) has \(size) bytes, limit \(limit)"
        case let .tooManyMembers(path, limit):
            return "archive \(path) has more than \(limit) members"
        case let .archiveTooLarge(path, limit):
            return "archive \(path) holds more than \(limit) uncompressed bytes"
        case let .fileChanged(path, expected, read):
            return "\(path) changed while archiving: stat said \(expected) bytes, read \(read)"
        case let .notARegularFile(path):
            return "\(path) is not a regular file"
        case let .treeTooDeep(path, limit):
            return "directory tree at \(path) is nested deeper than \(limit) levels"
        case let .compressionUnknown(name):
            return "unsupported archive compression \(String(reflecting: name)) (known: zstd, gzip, none)"
        case let .writerClosed(path):
            return "archive writer for \(path) is already finished, aborted or failed"
        case let .manifest(path, detail):
            return "archive manifest of \(path): \(oneLine(detail))"
        case let .memberTypeRefused(path, member, type):
            return "archive \(path): member \(String(reflecting: member)) is a \(type), which is not extracted"
        case let .unsafeLinkTarget(path, member, target, reason):
            return "archive \(path): hard link \(String(reflecting: member)) -> \(String(reflecting: target)): \(reason)"
        case let .compressionRatioExceeded(path, member, uncompressed, compressed, ratio):
            return "archive \(path) expands to at least \(uncompressed) bytes at member \(String(reflecting: member)) "
                + "from \(compressed) bytes on disk (more than \(ratio):1): refused as a decompression bomb"
        case let .targetNotEmpty(path):
            return "extraction target \(path) is not an empty directory"
        case let .unsafeDeletedPath(path, reason):
            return "unsafe deleted.files entry \(String(reflecting: path)): \(reason)"
        case let .cancelled(operation, path):
            return "\(operation) \(path): cancelled"
        case let .deletedPathConflict(path, existing):
            return "deleted.files entry \(String(reflecting: path)) names a \(existing) the rootfs diff wrote"
        case let .digestMismatch(what, path, expected, actual):
            return "\(what) \(path) does not match its descriptor: expected \(expected), got \(actual)"
        case let .unsafeWhiteout(path, member, reason):
            return "image layer \(path): whiteout \(String(reflecting: member)) refused: \(reason)"
        }
    }
}

/// Collapses line breaks so nested messages keep a description on one line.
func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).joined(separator: " ")
}

/// Runs a Linux-layer call and wraps its error at the module boundary.
@inline(__always)
func io<T>(_ body: () throws(LinuxError) -> T) throws(ArchiveError) -> T {
    do { return try body() } catch { throw ArchiveError.io(error) }
}

/// `sysCall` (EINTR retry, errno capture) with the error wrapped for this module.
@discardableResult
func sys<T: BinaryInteger>(_ operation: String, path: String, _ body: () -> T) throws(ArchiveError) -> T {
    do { return try sysCall(operation, path: path, body) } catch { throw ArchiveError.io(error) }
}
