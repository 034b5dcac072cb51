#if canImport(Glibc)
import Glibc
#endif
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

    deinit { close(fd) }

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
