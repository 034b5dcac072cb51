#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodCore
import CrpodLinux

/// The directory an extraction writes into, held open as an fd. Every name below it is
/// resolved by `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`
/// relative to that fd, so neither a `..` nor a symlink — planted by the archive or by anyone
/// else while the extraction runs — can lead a write outside it. Directories are created
/// 0700, files 0600 with `O_EXCL | O_NOFOLLOW`; nothing from a member header is applied.
///
/// Not Sendable: one extraction, one owner.
final class ExtractionRoot {
    let path: String
    private let fd: Int32
    /// Directories this extraction created, named by members or implied by their names.
    private var directories: Set<String> = []

    private static let resolve = crpod_resolve_in_root | crpod_resolve_no_symlinks | crpod_resolve_no_magiclinks

    /// Creates `path` (mode 0700; its parent must exist), or opens it when it already is an
    /// empty directory. A symlink at `path` is refused.
    init(emptyDirectory path: String) throws(ArchiveError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw ArchiveError.io(.syscall(operation: "mkdir", path: path, errno: .init(rawValue: errno)))
        }
        let fd = try sys("open", path: path) { open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        do throws(ArchiveError) {
            guard try TreeWalker.names(in: fd, path: path).isEmpty else { throw ArchiveError.targetNotEmpty(path: path) }
        } catch {
            close(fd)
            throw error
        }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// `path/name`, for messages only.
    func fullPath(_ name: String) -> String { "\(path)/\(name)" }

    /// Creates the directory `name` and any missing parent. A directory that an earlier
    /// member's name implied is already there and is left as it is.
    func makeDirectory(_ name: String) throws(ArchiveError) {
        try makeParents(of: name)
        guard !directories.contains(name) else { return }
        try makeOneDirectory(name)
    }

    /// Creates the regular file `name` (and any missing parent) and returns it open for writing.
    func createFile(_ name: String) throws(ArchiveError) -> Int32 {
        try makeParents(of: name)
        return try openBelow(name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, operation: "create")
    }

    private func makeParents(of name: String) throws(ArchiveError) {
        var prefix = ""
        for component in PathText.components(name).dropLast() {
            prefix = ArchiveMemberName.join(prefix, String(component))
            if !directories.contains(prefix) { try makeOneDirectory(prefix) }
        }
    }

    /// mkdirat in the parent, which is opened through openat2 (the root fd itself at the top).
    private func makeOneDirectory(_ name: String) throws(ArchiveError) {
        let slash = name.lastIndex(of: "/")
        let parentName = slash.map { String(name[..<$0]) }
        let leaf = slash.map { String(name[name.index(after: $0)...]) } ?? name
        var parent = fd
        if let parentName {
            parent = try openBelow(parentName, flags: crpod_o_path | O_DIRECTORY, mode: 0, operation: "open directory")
        }
        defer { if parent != fd { close(parent) } }
        try sys("mkdir", path: fullPath(name)) { mkdirat(parent, leaf, 0o700) }
        directories.insert(name)
    }

    private func openBelow(_ name: String, flags: Int32, mode: UInt32, operation: String) throws(ArchiveError) -> Int32 {
        try io { () throws(LinuxError) in
            try shimCall(operation, path: fullPath(name)) {
                crpod_openat2(fd, name, flags | O_CLOEXEC, mode, Self.resolve)
            }
        }
    }
}
