#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodLinux

/// `deleted.files` → overlay whiteouts (character devices 0:0) in an upper directory.
enum Whiteouts {
    /// One deleted path: as written in deleted.files, and relative to upper.
    struct Deletion {
        let entry: String
        let relative: String
    }

    /// Checks every entry before anything is written: podman's form is `/bin/vi`; the part
    /// after the leading `/` must be a plain relative path (no `..`, `.`, empty components).
    static func relativePaths(_ entries: [String], limit: Int) throws(ArchiveError) -> [Deletion] {
        if entries.count > limit { throw ArchiveError.tooManyMembers(path: RootfsDiff.deletedFilesName, limit: limit) }
        var result: [Deletion] = []
        result.reserveCapacity(entries.count)
        for entry in entries {
            let relative = entry.hasPrefix("/") ? String(entry.dropFirst()) : entry
            if let reason = CheckpointMember.unsafeNameReason(relative) ?? ArchiveMemberName.problem(with: relative) {
                throw ArchiveError.unsafeDeletedPath(path: entry, reason: reason)
            }
            result.append(Deletion(entry: entry, relative: relative))
        }
        return result
    }

    /// Makes the whiteouts below `upper` and returns the entries that got a new one (an
    /// existing whiteout is left alone; anything else in the way is a conflict).
    static func make(_ deletions: [Deletion], in upper: String) throws(ArchiveError) -> [String] {
        let root = try sys("open", path: upper) { open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(root) }
        var made: [String] = []
        for deletion in deletions {
            if try makeOne(deletion, root: root, upper: upper) { made.append(deletion.entry) }
        }
        return made
    }

    private static func makeOne(_ deletion: Deletion, root: Int32, upper: String) throws(ArchiveError) -> Bool {
        let components = PathText.components(deletion.relative).map(String.init)
        guard let leaf = components.last else { throw ArchiveError.unsafeDeletedPath(path: deletion.entry, reason: "empty") }
        let parent = try openParents(components.dropLast(), root: root, upper: upper, deletion: deletion)
        defer { if parent != root { close(parent) } }
        let path = "\(upper)/\(deletion.relative)"
        if mknodat(parent, leaf, S_IFCHR, 0) == 0 { return true }
        let code = errno
        guard code == EEXIST else {
            throw ArchiveError.io(.syscall(operation: "mknod whiteout", path: path, errno: .init(rawValue: code)))
        }
        var info = stat()
        try sys("lstat", path: path) { fstatat(parent, leaf, &info, AT_SYMLINK_NOFOLLOW) }
        if (info.st_mode & S_IFMT) == S_IFCHR && info.st_rdev == 0 { return false }
        throw ArchiveError.deletedPathConflict(path: deletion.entry, existing: kind(info.st_mode))
    }

    /// Walks from upper's fd one component at a time with O_NOFOLLOW, creating missing
    /// directories (0755, as overlayfs would copy them up); a symlink or file on the way
    /// refuses the entry. Returns the parent's fd (the root fd itself for a top-level name).
    private static func openParents(
        _ components: ArraySlice<String>, root: Int32, upper: String, deletion: Deletion
    ) throws(ArchiveError) -> Int32 {
        var fd = root
        var prefix = ""
        for component in components {
            prefix = ArchiveMemberName.join(prefix, component)
            let next: Int32
            do throws(ArchiveError) {
                next = try openDirectory(component, in: fd, path: "\(upper)/\(prefix)", prefix: prefix, deletion: deletion)
            } catch {
                if fd != root { close(fd) }
                throw error
            }
            if fd != root { close(fd) }
            fd = next
        }
        return fd
    }

    private static func openDirectory(
        _ name: String, in parent: Int32, path: String, prefix: String, deletion: Deletion
    ) throws(ArchiveError) -> Int32 {
        var created = false
        while true {
            let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 { return fd }
            let code = errno
            switch code {
            case EINTR:
                continue
            case ENOENT where !created:
                if mkdirat(parent, name, 0o755) != 0 && errno != EEXIST {
                    throw ArchiveError.io(.syscall(operation: "mkdir", path: path, errno: .init(rawValue: errno)))
                }
                created = true
            case ELOOP, ENOTDIR:
                throw ArchiveError.unsafeDeletedPath(
                    path: deletion.entry, reason: "\(prefix) in the upper directory is a symlink or not a directory")
            default:
                throw ArchiveError.io(.syscall(operation: "open directory", path: path, errno: .init(rawValue: code)))
            }
        }
    }

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "directory"
        case S_IFREG: return "regular file"
        case S_IFLNK: return "symlink"
        case S_IFIFO: return "fifo"
        case S_IFCHR: return "character device"
        case S_IFBLK: return "block device"
        default: return "special file"
        }
    }
}
