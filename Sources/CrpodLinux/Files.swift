#if canImport(Glibc)
import Glibc
#endif
import CShims
import SystemPackage

/// Small file helpers over raw fds: every call goes through `sysCall`, fds are O_CLOEXEC.
public enum Files {
    /// Reads a whole file (kernel pseudo-files included, whose size is reported as 0).
    public static func read(_ path: String, limit: Int = 16 << 20) throws(LinuxError) -> [UInt8] {
        let fd = try sysCall("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try sysCall("read", path: path) { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit {
                throw LinuxError.parse(file: path, line: nil, detail: "larger than \(limit) bytes")
            }
        }
    }

    public static func readText(_ path: String, limit: Int = 16 << 20) throws(LinuxError) -> String {
        String(decoding: try read(path, limit: limit), as: UTF8.self)
    }

    /// Writes to an existing file without truncating or creating it (cgroupfs, procfs).
    public static func writeExisting(_ path: String, _ text: String) throws(LinuxError) {
        let fd = try sysCall("open", path: path) { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        _ = try sysCall("write", path: path) { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
    }

    /// Writes `bytes` to `path` atomically: a temp file next to it, created with its final
    /// mode, fsynced, renamed over the target, and the directory fsynced.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws(LinuxError) {
        let temp = "\(path).tmp-\(getpid())"
        let fd = try sysCall("create", path: temp) { open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        do {
            defer { close(fd) }
            var offset = 0
            while offset < bytes.count {
                let n = try sysCall("write", path: temp) {
                    bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                }
                offset += n
            }
            try sysCall("fsync", path: temp) { fsync(fd) }
        } catch {
            unlink(temp)
            throw error
        }
        do { try sysCall("rename", path: path) { rename(temp, path) } } catch {
            unlink(temp)
            throw error
        }
        try syncDirectory(of: path)
    }

    public static func syncDirectory(of path: String) throws(LinuxError) {
        let dir = parent(of: path)
        let fd = try sysCall("open", path: dir) { open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try sysCall("fsync", path: dir) { fsync(fd) }
    }

    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `path` with every symlink, `.` and `..` resolved (realpath(3)); nil when it does not exist.
    public static func resolvedPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The target of the symbolic link at `path` (up to 4095 bytes), nil when it is not one.
    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// mkdir -p with `mode` for the directories it creates.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws(LinuxError) {
        if isDirectory(path) { return }
        let up = parent(of: path)
        if up != path && up != "/" && up != "." { try makeDirectories(up, mode: mode) }
        if mkdir(path, mode) != 0 {
            let code = Errno(rawValue: Glibc.errno)
            guard code == .fileExists, isDirectory(path) else {
                throw LinuxError.syscall(operation: "mkdir", path: path, errno: code == .fileExists ? .notDirectory : code)
            }
        }
    }

    /// mkdtemp: a new directory `<parent>/<prefix>XXXXXX` (mode 0700); `parent` is created first.
    public static func makeTemporaryDirectory(in parent: String, prefix: String) throws(LinuxError) -> String {
        try makeDirectories(parent, mode: 0o700)
        var template = Array("\(parent)/\(prefix)XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { $0.baseAddress.map { mkdtemp($0) != nil } ?? false }
        guard made else { throw LinuxError.syscall(operation: "mkdtemp", path: parent, errno: Errno(rawValue: Glibc.errno)) }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Renames `from` to `to` unless `to` exists (renameat2 RENAME_NOREPLACE): false then,
    /// and `from` stays. Both must be on one filesystem.
    public static func renameIfAbsent(_ from: String, to: String) throws(LinuxError) -> Bool {
        // The call sits inside the funnel so EINTR repeats it; EEXIST is an answer, not an error.
        var targetExists = false
        try shimCall("rename \(from) to", path: to) {
            let rc = crpod_rename_noreplace(from, to)
            targetExists = rc == -EEXIST
            return targetExists ? 0 : rc
        }
        return !targetExists
    }

    /// rm -rf that never crosses into another filesystem's mount point: a directory on
    /// another device than `path` makes it fail with EXDEV instead of emptying that mount.
    public static func removeTree(_ path: String) throws(LinuxError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        try removeTree(path, info: info, device: info.st_dev)
    }

    private static func removeTree(_ path: String, info: stat, device: dev_t) throws(LinuxError) {
        if (info.st_mode & S_IFMT) == S_IFDIR {
            guard info.st_dev == device else {
                throw LinuxError.syscall(operation: "remove (mount point inside)", path: path, errno: .improperLink)
            }
            for name in try listDirectory(path) {
                var child = stat()
                if lstat("\(path)/\(name)", &child) == 0 { try removeTree("\(path)/\(name)", info: child, device: device) }
            }
            try sysCall("rmdir", path: path) { rmdir(path) }
        } else {
            try sysCall("unlink", path: path) { unlink(path) }
        }
    }

    /// Gives `target` the permission bits of `source` (or of `override`, an st_mode).
    public static func copyMode(from source: String, to target: String, override: UInt32?) throws(LinuxError) {
        var info = stat()
        if override == nil { try sysCall("stat", path: source) { stat(source, &info) } }
        let mode = mode_t(override ?? UInt32(info.st_mode)) & 0o7777
        try sysCall("chmod", path: target) { chmod(target, mode) }
    }

    public static func listDirectory(_ path: String) throws(LinuxError) -> [String] {
        guard let dir = opendir(path) else {
            throw LinuxError.syscall(operation: "opendir", path: path, errno: Errno(rawValue: Glibc.errno))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
