#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux

/// One filesystem object met by `TreeWalker`, with the fd of its directory so the caller can
/// `openat`/`readlinkat` it without resolving the path again.
struct TreeItem {
    let parent: Int32
    let name: String
    /// Path below the walked root, `/`-separated, no leading `./`.
    let relativePath: String
    /// For error messages only; never used to open anything.
    let fullPath: String
    /// `fstatat(…, AT_SYMLINK_NOFOLLOW)`.
    let info: stat

    var fileType: mode_t { info.st_mode & S_IFMT }
}

/// An fd-anchored, depth-first, sorted walk. Directories are opened with `O_NOFOLLOW` relative
/// to their parent's fd, so a directory swapped for a symlink mid-walk (a running container
/// owns the upper dir) fails instead of leading outside the tree. Each directory is reported
/// before its contents.
enum TreeWalker {
    static let maxDepth = 256

    static func walk(_ root: String, _ body: (TreeItem) throws(ArchiveError) -> Void) throws(ArchiveError) {
        let fd = try sys("open", path: root) { open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try walk(fd: fd, root: root, relative: "", depth: 0, body)
    }

    private static func walk(
        fd: Int32, root: String, relative: String, depth: Int, _ body: (TreeItem) throws(ArchiveError) -> Void
    ) throws(ArchiveError) {
        let here = relative.isEmpty ? root : "\(root)/\(relative)"
        guard depth < maxDepth else { throw ArchiveError.treeTooDeep(path: here, limit: maxDepth) }
        for name in try names(in: fd, path: here) {
            let path = ArchiveMemberName.join(relative, name)
            let full = "\(root)/\(path)"
            var info = stat()
            try sys("lstat", path: full) { fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) }
            let item = TreeItem(parent: fd, name: name, relativePath: path, fullPath: full, info: info)
            try body(item)
            guard item.fileType == S_IFDIR else { continue }
            let child = try sys("open", path: full) { openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            defer { close(child) }
            try walk(fd: child, root: root, relative: path, depth: depth + 1, body)
        }
    }

    /// The entry names of the directory open at `fd`, sorted, without `.` and `..`.
    static func names(in fd: Int32, path: String) throws(ArchiveError) -> [String] {
        let copy = try sys("dup", path: path) { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
        guard let dir = fdopendir(copy) else {
            let code = errno
            close(copy)
            throw ArchiveError.io(.syscall(operation: "opendir", path: path, errno: .init(rawValue: code)))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else { break }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        if errno != 0 {
            throw ArchiveError.io(.syscall(operation: "readdir", path: path, errno: .init(rawValue: errno)))
        }
        return names.sorted()
    }

    /// The target of the symlink `item`.
    static func readLink(_ item: TreeItem) throws(ArchiveError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = try sys("readlink", path: item.fullPath) { readlinkat(item.parent, item.name, &buffer, buffer.count) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
