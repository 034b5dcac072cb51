#if canImport(Glibc)
import Glibc
#endif
import CShims

extension ArchiveWriter {
    /// How a directory tree is copied into the archive.
    enum TreePolicy {
        /// Checkpoint data: regular files, directories, symlinks; everything else is skipped.
        case checkpoint
        /// An overlay upper dir: also devices and fifos, hardlinks kept as links, portable
        /// xattrs; whiteouts (0:0 character devices) become deleted paths instead of members.
        case rootfsDiff
    }

    struct TreeResult {
        var skipped: [String] = []
        var whiteouts: [String] = []
    }

    private struct FileID: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// Adds the tree at `path` below `prefix` (a directory member named `prefix` first, unless
    /// it is empty): regular files, directories and symlinks. Sockets, fifos and devices are
    /// not added; their member names are returned.
    @discardableResult
    public func addDirectory(at path: String, as prefix: String) throws(ArchiveError) -> [String] {
        try requireOpen()
        if !prefix.isEmpty {
            try ArchiveMemberName.validate(prefix)
            var info = stat()
            try sys("stat", path: path) { stat(path, &info) }
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw ArchiveError.io(.syscall(operation: "open directory", path: path, errno: .notDirectory))
            }
            try claim(prefix)
            try writeHeader(EntryHeader(name: prefix, info: info))
        }
        return try addTree(at: path, prefix: prefix, policy: .checkpoint).skipped
    }

    func addTree(at root: String, prefix: String, policy: TreePolicy) throws(ArchiveError) -> TreeResult {
        try requireOpen()
        var result = TreeResult()
        var links: [FileID: String] = [:]
        try TreeWalker.walk(root) { (item) throws(ArchiveError) in
            let name = ArchiveMemberName.join(prefix, item.relativePath)
            switch item.fileType {
            case S_IFREG:
                try addRegular(item, as: name, policy: policy, links: &links)
            case S_IFDIR:
                try claim(name)
                try writeHeader(EntryHeader(name: name, info: item.info))
            case S_IFLNK:
                var header = EntryHeader(name: name, info: item.info)
                header.symlink = try TreeWalker.readLink(item)
                try claim(name)
                try writeHeader(header)
            case S_IFCHR where policy == .rootfsDiff && item.info.st_rdev == 0:
                // podman's deleted.files form: absolute inside the container's root.
                result.whiteouts.append("/\(item.relativePath)")
            case S_IFCHR where policy == .rootfsDiff, S_IFBLK where policy == .rootfsDiff,
                 S_IFIFO where policy == .rootfsDiff:
                try claim(name)
                try writeHeader(EntryHeader(name: name, info: item.info))
            default:
                // Sockets always (tar cannot hold them; podman skips them too), and in
                // checkpoint data also devices and fifos.
                result.skipped.append(name)
            }
        }
        return result
    }

    /// A regular file: opened relative to its directory with O_NOFOLLOW, re-checked with fstat,
    /// streamed. In rootfs-diff mode, later names of a multiply-linked inode become hardlinks.
    private func addRegular(
        _ item: TreeItem, as name: String, policy: TreePolicy, links: inout [FileID: String]
    ) throws(ArchiveError) {
        let id = FileID(device: UInt64(item.info.st_dev), inode: UInt64(item.info.st_ino))
        let keepLinks = policy == .rootfsDiff && item.info.st_nlink > 1
        if keepLinks, let first = links[id] {
            var header = EntryHeader(name: name, info: item.info)
            header.size = 0
            header.hardlink = first
            try claim(name)
            try writeHeader(header)
            return
        }
        let source = try sys("open", path: item.fullPath) {
            openat(item.parent, item.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        }
        defer { close(source) }
        var info = stat()
        try sys("fstat", path: item.fullPath) { fstat(source, &info) }
        guard (info.st_mode & S_IFMT) == S_IFREG, info.st_ino == item.info.st_ino else {
            throw ArchiveError.notARegularFile(path: item.fullPath)
        }
        var header = EntryHeader(name: name, info: info)
        if policy == .rootfsDiff { header.xattrs = PortableXattrs.read(fd: source) }
        try claim(name)
        try writeHeader(header)
        try writeContent(from: source, size: UInt64(max(0, info.st_size)), name: name, sourcePath: item.fullPath)
        if keepLinks { links[id] = name }
    }
}
