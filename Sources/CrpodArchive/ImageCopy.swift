#if canImport(Glibc)
import Glibc
#endif

/// Copies checkpoint images between filesystems (the export's tmpfs → the container directory
/// when an export failed): directories and regular files, modes kept, anything else skipped
/// (CRIU writes neither links nor devices there). The target must not exist yet.
public enum ImageCopy {
    public static func copyTree(from source: String, to target: String) throws(ArchiveError) {
        try sys("mkdir", path: target) { mkdir(target, 0o700) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        try TreeWalker.walk(source) { (item) throws(ArchiveError) in
            let path = "\(target)/\(item.relativePath)"
            switch item.fileType {
            case S_IFDIR: try sys("mkdir", path: path) { mkdir(path, item.info.st_mode & 0o7777) }
            case S_IFREG: try copyFile(item, to: path, buffer: buffer)
            default: break
            }
        }
    }

    private static func copyFile(_ item: TreeItem, to path: String, buffer: UnsafeMutableRawBufferPointer) throws(ArchiveError) {
        let input = try sys("open", path: item.fullPath) { openat(item.parent, item.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(input) }
        let output = try sys("create", path: path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, item.info.st_mode & 0o7777) }
        defer { close(output) }
        try sys("fchmod", path: path) { fchmod(output, item.info.st_mode & 0o7777) }  // not narrowed by the umask
        while true {
            let n = try sys("read", path: item.fullPath) { read(input, buffer.baseAddress, buffer.count) }
            if n == 0 { return }
            try ExtractionSession.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: path)
        }
    }
}
