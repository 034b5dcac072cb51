#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodCore
import CrpodLinux

/// Image layers (OCI or docker tars, plain or compressed) unpacked in order into one tree.
public enum ImageLayers {
    /// Limits for one image layer: a distribution image has many more, smaller files than a
    /// checkpoint, the same byte and bomb bounds.
    public static let limits = ExtractionLimits(maxMembers: 1_000_000)

    /// Unpacks `layers` (bottom first) into `target`, which must be an empty directory (it
    /// gets mode 0755, or the permission bits of the topmost layer's `./` entry, without
    /// setuid/setgid). Each layer goes through the rootfs-diff writer (libarchive
    /// `archive_write_disk` with secure-symlink and no-dotdot checks, names validated first,
    /// devices and sockets refused, numeric owners, portable xattrs only); a `.wh.NAME` member
    /// removes NAME from the layers below and `.wh..wh..opq` empties its directory of them,
    /// both through an fd-anchored walk that refuses symlinks. Setuid bits are the image's
    /// and are kept. On failure `target` holds a partial tree: the caller removes it.
    public static func unpack(layers: [String], into target: String, limits: ExtractionLimits = ImageLayers.limits) throws(ArchiveError) {
        let root = try RootfsDiskWriter.resolveEmptyDirectory(target)
        try sys("chmod", path: root) { chmod(root, 0o755) }
        for layer in layers {
            let writer = try RootfsDiskWriter(tarPath: layer, upper: root, limits: limits, kind: .imageLayer)
            _ = try writer.run()
        }
    }

    /// SHA-256 of a layer's decompressed stream (its diff ID), as `sha256:<hex>`.
    public static func diffID(of layer: String) throws(ArchiveError) -> String {
        let reader = try ArchiveReadHandle(file: try ArchiveFile.open(path: layer, followSymlinks: false), raw: true)
        guard try reader.nextHeader(operation: "open stream") != nil else { return try "sha256:" + SHA256Hasher.hash([]) }
        let hasher = try SHA256Hasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var total: UInt64 = 0
        let allowed = limits.allowedUncompressed(compressedBytes: reader.fileSize)
        while true {
            let n = try reader.readData(into: buffer, operation: "decompress")
            if n == 0 { return "sha256:" + (try hasher.finalize()) }
            total += UInt64(n)
            if total > allowed || total > limits.maxTotalBytes {
                throw ArchiveError.compressionRatioExceeded(path: layer, member: "(stream)", uncompressed: total, compressed: reader.fileSize, ratio: limits.maxCompressionRatio)
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}

/// One OCI whiteout member of a layer: `dir/.wh.NAME` (NAME is deleted) or
/// `dir/.wh..wh..opq` (the directory is opaque: what lower layers put there is deleted).
struct LayerWhiteout {
    static let prefix = ".wh."
    static let opaque = ".wh..wh..opq"

    let member: String
    let directory: [String]
    /// nil for the opaque marker.
    let deleted: String?

    init?(_ name: String) {
        var components = PathText.components(name).map(String.init)
        guard let leaf = components.popLast(), leaf.hasPrefix(Self.prefix) else { return nil }
        member = name
        directory = components
        deleted = leaf == Self.opaque ? nil : String(leaf.dropFirst(Self.prefix.count))
    }

    /// Applies the whiteout below `root`; `keeping` are the names this layer already wrote.
    func apply(in root: String, keeping: Set<String>, layer: String) throws(ArchiveError) {
        if let deleted, deleted.isEmpty || deleted == "." || deleted == ".." || deleted.hasPrefix(Self.prefix) {
            throw ArchiveError.unsafeWhiteout(path: layer, member: member, reason: "names no file")
        }
        guard let fd = try openDirectory(root: root, layer: layer) else { return }  // nothing below to hide
        defer { close(fd) }
        let prefix = directory.joined(separator: "/")
        if let deleted {
            let relative = ArchiveMemberName.join(prefix, deleted)
            if !keeping.contains(relative) { try removeChild(deleted, parent: fd, path: "\(root)/\(relative)") }
            return
        }
        try prune(fd, prefix: prefix, root: root, keeping: keeping)
    }

    /// Removes every entry of the directory `fd` (at `prefix`) that this layer did not write,
    /// descending into directories that hold something it wrote.
    private func prune(_ fd: Int32, prefix: String, root: String, keeping: Set<String>) throws(ArchiveError) {
        let path = prefix.isEmpty ? root : "\(root)/\(prefix)"
        for name in try TreeWalker.names(in: fd, path: path) {
            let relative = ArchiveMemberName.join(prefix, name)
            let holdsKept = keeping.contains { $0.hasPrefix(relative + "/") }
            if !keeping.contains(relative) && !holdsKept {
                try removeChild(name, parent: fd, path: "\(root)/\(relative)")
            } else if holdsKept {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { continue }
                defer { close(child) }
                try prune(child, prefix: relative, root: root, keeping: keeping)
            }
        }
    }

    /// The whiteout's directory, opened one component at a time without following symlinks;
    /// nil when it does not exist (yet).
    private func openDirectory(root: String, layer: String) throws(ArchiveError) -> Int32? {
        var fd = try sys("open", path: root) { open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        for (index, component) in directory.enumerated() {
            let next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            close(fd)
            if next >= 0 { fd = next; continue }
            let shown = directory[...index].joined(separator: "/")
            switch code {
            case ENOENT: return nil
            case ELOOP, ENOTDIR:
                throw ArchiveError.unsafeWhiteout(path: layer, member: member, reason: "\(shown) is a symlink or not a directory")
            default:
                throw ArchiveError.io(.syscall(operation: "open directory", path: "\(root)/\(shown)", errno: .init(rawValue: code)))
            }
        }
        return fd
    }

    /// Removes `name` in the directory `parent`: a file or symlink is unlinked (never
    /// followed), a directory removed with its contents.
    private func removeChild(_ name: String, parent: Int32, path: String) throws(ArchiveError) {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            try io { () throws(LinuxError) in try Files.removeTree(path) }
        } else {
            try sys("unlink", path: path) { unlinkat(parent, name, 0) }
        }
    }
}
