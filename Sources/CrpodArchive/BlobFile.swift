#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux

/// Content-addressed blob files: copied while hashed, so a blob is verified in the same pass
/// that stores it.
public enum BlobFile {
    /// Copies the regular file `source` (not followed if a symlink) to `destination`, which
    /// must not exist (created 0644, fsynced), and returns its SHA-256 hex digest and size.
    /// On failure `destination` is removed.
    public static func copy(from source: String, to destination: String) throws(ArchiveError) -> (hex: String, size: UInt64) {
        let input = try ArchiveFile.open(path: source, followSymlinks: false)
        let output = try sys("create", path: destination) { open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        do throws(ArchiveError) {
            let result = try copy(input, to: output, destination: destination)
            try sys("fsync", path: destination) { fsync(output) }
            close(output)
            return result
        } catch {
            close(output)
            unlink(destination)
            throw error
        }
    }

    private static func copy(_ input: OpenedFile, to output: Int32, destination: String) throws(ArchiveError) -> (hex: String, size: UInt64) {
        let hasher = try SHA256Hasher()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        var offset: UInt64 = 0
        while true {
            let n = try io { () throws(LinuxError) in try input.read(into: chunk, at: offset) }
            if n == 0 { return (try hasher.finalize(), offset) }
            offset += UInt64(n)
            let bytes = UnsafeRawBufferPointer(rebasing: chunk[0..<n])
            hasher.update(bytes)
            try ExtractionSession.writeAll(output, bytes, path: destination)
        }
    }
}
