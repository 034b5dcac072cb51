#if canImport(Glibc)
import Glibc
#endif
import CShims
import SystemPackage

/// Which file an fd or a directory entry is: device and inode.
public struct FileIdentity: Sendable, Equatable, CustomStringConvertible {
    public let device: UInt64
    public let inode: UInt64

    public init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    public var description: String { "dev \(device) ino \(inode)" }
}

/// A regular file opened once for reading and then used only through its fd, so a path
/// component swapped after the check cannot redirect what is read. The name is looked up with
/// `O_PATH | O_NOFOLLOW` (nothing is opened for I/O, a symbolic link in the last component is
/// not followed); `fstat` must say regular file (a FIFO, socket, device, directory or symlink is
/// refused, naming what it is — so a device is never opened and a FIFO never blocks) and the
/// size must be within the caller's limit; only then is that very inode opened for reading
/// through /proc/self/fd (`O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC`) and checked again.
/// The fd closes with the object.
public final class OpenedFile: Sendable {
    public let fd: Int32
    /// The path it was opened by, for messages.
    public let path: String
    public let size: UInt64
    public let identity: FileIdentity

    /// How a name is looked up, and how the checked inode is then opened for reading.
    static let lookupFlags = crpod_o_path | O_NOFOLLOW | O_CLOEXEC
    static let readFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC

    private init(fd: Int32, path: String, info: stat) {
        self.fd = fd
        self.path = path
        self.size = UInt64(max(0, info.st_size))
        self.identity = FileIdentity(info)
    }

    deinit { close(fd) }

    /// `name` in the directory open as `directoryFD`; `path` names it in messages.
    public static func open(in directoryFD: Int32, name: String, path: String, maxBytes: UInt64) throws(LinuxError) -> OpenedFile {
        let fd = openat(directoryFD, name, lookupFlags)
        guard fd >= 0 else { throw refusal(Errno(rawValue: errno), directoryFD: directoryFD, name: name, path: path) }
        return try checked(fd, path: path, maxBytes: maxBytes)
    }

    /// `path` as given; symbolic links in it are followed only when `followSymlinks` (the root
    /// CLI's own paths), never in the last component otherwise.
    public static func open(path: String, followSymlinks: Bool = false, maxBytes: UInt64) throws(LinuxError) -> OpenedFile {
        let fd = Glibc.open(path, followSymlinks ? lookupFlags & ~O_NOFOLLOW : lookupFlags)
        guard fd >= 0 else { throw refusal(Errno(rawValue: errno), directoryFD: AT_FDCWD, name: path, path: path) }
        return try checked(fd, path: path, maxBytes: maxBytes)
    }

    /// `relative` beneath the directory `root`, with no symbolic link anywhere on the way
    /// (`openat2` RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS).
    public static func open(beneath root: String, relative: String, path: String, maxBytes: UInt64) throws(LinuxError) -> OpenedFile {
        let rootFD = try sysCall("open", path: root) { Glibc.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(rootFD) }
        let resolve = crpod_resolve_beneath | crpod_resolve_no_symlinks | crpod_resolve_no_magiclinks
        let fd = crpod_openat2(rootFD, relative, lookupFlags, 0, resolve)
        guard fd >= 0 else {
            guard -fd != ELOOP else { throw LinuxError.notRegularFile(path: path, kind: "reached through a symbolic link (not followed)") }
            throw LinuxError.syscall(operation: "open", path: path, errno: Errno(rawValue: -fd))
        }
        return try checked(fd, path: path, maxBytes: maxBytes)
    }

    /// A second open file description of the same file (its own offset), through
    /// /proc/self/fd: never a new path lookup. The caller closes it.
    public func reopen() throws(LinuxError) -> Int32 {
        let fd = try sysCall("reopen", path: path) { Glibc.open("/proc/self/fd/\(self.fd)", O_RDONLY | O_CLOEXEC) }
        var info = stat()
        guard fstat(fd, &info) == 0, FileIdentity(info) == identity else {
            close(fd)
            throw LinuxError.notRegularFile(path: path, kind: "not the file that was opened (reopen found another)")
        }
        return fd
    }

    /// Reads up to `buffer.count` bytes at `offset` (the fd's offset is not moved).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(LinuxError) -> Int {
        try sysCall("read", path: path) { pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// The whole content (the size limit was checked at open).
    public func readAll() throws(LinuxError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var filled = 0
        while filled < bytes.count {
            let offset = filled
            let n = bytes.withUnsafeMutableBytes { raw in
                pread(fd, raw.baseAddress! + offset, raw.count - offset, off_t(offset))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw LinuxError.syscall(operation: "read", path: path, errno: Errno(rawValue: errno))
            }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes[0..<filled])
    }

    /// Checks what the `O_PATH` fd `lookup` refers to, then opens that inode for reading.
    private static func checked(_ lookup: Int32, path: String, maxBytes: UInt64) throws(LinuxError) -> OpenedFile {
        defer { close(lookup) }
        var info = stat()
        try sysCall("fstat", path: path) { fstat(lookup, &info) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let isLink = (info.st_mode & S_IFMT) == S_IFLNK
            throw LinuxError.notRegularFile(path: path, kind: isLink ? "a symbolic link to \(linkTarget(lookup)) (not followed)" : describe(mode: info.st_mode))
        }
        guard UInt64(max(0, info.st_size)) <= maxBytes else {
            throw LinuxError.fileTooLarge(path: path, size: UInt64(info.st_size), limit: maxBytes)
        }
        let fd = try sysCall("open", path: path) { Glibc.open("/proc/self/fd/\(lookup)", readFlags) }
        var opened = stat()
        guard fstat(fd, &opened) == 0, FileIdentity(opened) == FileIdentity(info), (opened.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw LinuxError.notRegularFile(path: path, kind: "not the file that was checked (reopen found another)")
        }
        return OpenedFile(fd: fd, path: path, info: opened)
    }

    /// Where the symlink open as the `O_PATH` fd `link` points.
    private static func linkTarget(_ link: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlinkat(link, "", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }

    /// A failed lookup; ELOOP (a loop of links, or a link where none may be) named as such.
    private static func refusal(_ code: Errno, directoryFD: Int32, name: String, path: String) -> LinuxError {
        guard code == .tooManySymbolicLinkLevels else { return .syscall(operation: "open", path: path, errno: code) }
        return .notRegularFile(path: path, kind: "reached through symbolic links that cannot be followed")
    }

    /// "a FIFO", "a socket", … for an `st_mode`.
    public static func describe(mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFLNK: return "a symbolic link"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "a file of unknown type"
        }
    }
}
