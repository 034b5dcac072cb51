#if canImport(Glibc)
import Glibc
#endif
import CShims
import SystemPackage

/// A directory held open as an fd; names in it are opened, inspected and moved relative to
/// that fd (`openat`, `fstatat`, `renameat`), never by re-resolving a path. The fd closes with
/// the object.
public final class OpenDirectory: Sendable {
    public let fd: Int32
    public let path: String

    /// Opens `path`, which must be a directory and not a symbolic link.
    public init(_ path: String) throws(LinuxError) {
        fd = try sysCall("open directory", path: path) { open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        self.path = path
    }

    /// The directory `relative` beneath `root` (empty: `root` itself), with no symbolic link
    /// followed on the way (`openat2` RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a component
    /// swapped for a symlink after a check makes this fail instead of leading elsewhere.
    public init(beneath root: String, relative: String, path: String) throws(LinuxError) {
        let rootFD = try sysCall("open directory", path: root) { open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard !relative.isEmpty else {
            fd = rootFD
            self.path = path
            return
        }
        defer { close(rootFD) }
        let resolve = crpod_resolve_beneath | crpod_resolve_no_symlinks | crpod_resolve_no_magiclinks
        fd = try shimCall("open directory", path: path) { crpod_openat2(rootFD, relative, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, resolve) }
        self.path = path
    }

    deinit { close(fd) }

    /// A path to `name` in this directory that goes through the fd (`/proc/self/fd/N/name`),
    /// for code that takes paths: it reaches this directory whatever happens to `path`.
    public func anchoredPath(_ name: String) -> String { "/proc/self/fd/\(fd)/\(name)" }

    /// The path of `name` in this directory, for messages.
    public func pathOf(_ name: String) -> String { path + "/" + name }

    /// `name` opened as a regular file (see `OpenedFile`): never follows a symlink, never blocks.
    public func openRegularFile(_ name: String, maxBytes: UInt64) throws(LinuxError) -> OpenedFile {
        try OpenedFile.open(in: fd, name: name, path: pathOf(name), maxBytes: maxBytes)
    }

    /// What the entry `name` itself is (a symlink is not followed); nil when there is none.
    public func identity(of name: String) -> FileIdentity? {
        var info = stat()
        return fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? FileIdentity(info) : nil
    }

    public func contains(_ name: String) -> Bool { identity(of: name) != nil }

    /// The raw names of entries (not directories) that are not valid UTF-8 and decode (lossily, U+FFFD for each
    /// bad sequence) to `lossyName`: how such a name, as inotify or a listing reported it, is
    /// found again.
    public func rawNamesNotUTF8(decodingAs lossyName: String) -> [[UInt8]] {
        let copy = dup(fd)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return []
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            guard entry.pointee.d_type != UInt8(DT_DIR), String(validating: bytes, as: UTF8.self) == nil else { continue }
            if String(decoding: bytes, as: UTF8.self) == lossyName { names.append(bytes) }
        }
        return names
    }

    /// `move` for an entry known by its raw (not UTF-8) name.
    public func move(rawName: [UInt8], to target: OpenDirectory, as newName: String) throws(LinuxError) {
        let source = rawName.map { CChar(bitPattern: $0) } + [0]
        try sysCall("rename", path: pathOf(String(decoding: rawName, as: UTF8.self))) { renameat(fd, source, target.fd, newName) }
    }

    /// Renames the entry `name` (whatever it is: rename never opens or follows it) into
    /// `target` as `newName`. With `expected`, the entry that arrived must be that file: a
    /// mismatch (something swapped in after it was checked) throws `.notRegularFile`.
    public func move(_ name: String, to target: OpenDirectory, as newName: String? = nil, expected: FileIdentity? = nil) throws(LinuxError) {
        let destination = newName ?? name
        try sysCall("rename", path: pathOf(name)) { renameat(fd, name, target.fd, destination) }
        guard let expected else { return }
        let arrived = target.identity(of: destination)
        guard arrived == expected else {
            throw LinuxError.notRegularFile(
                path: pathOf(name),
                kind: "replaced after it was checked (opened \(expected), moved \(arrived?.description ?? "nothing"))")
        }
    }
}
