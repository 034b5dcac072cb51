import CrpodLinux

/// How archives are opened: once, safely (see `OpenedFile`), with a size bound checked from
/// `fstat` before anything is read. Readers take the opened file; the path forms below are
/// conveniences for callers that trust the path (the root CLI, tests).
public enum ArchiveFile {
    /// The largest archive file crpod reads: the extraction limits allow 16 GiB uncompressed,
    /// and a plain tar of that carries headers and padding on top.
    public static let maxBytes: UInt64 = 17 << 30

    /// Opens `path`, following symbolic links only when `followSymlinks`.
    public static func open(path: String, followSymlinks: Bool = true, maxBytes: UInt64 = maxBytes) throws(ArchiveError) -> OpenedFile {
        try io { () throws(LinuxError) in try OpenedFile.open(path: path, followSymlinks: followSymlinks, maxBytes: maxBytes) }
    }
}
