#if canImport(Glibc)
import Glibc
#endif

/// Property checks. A violated property traps (libFuzzer then saves the input as a crash),
/// unless its name is listed in `$CRPOD_FUZZ_IGNORE` (comma-separated): contrib/fuzz.sh sets
/// that from Fuzz/known-findings.txt, so a reported but unfixed finding does not stop the
/// fuzzer from looking for new ones.
public enum Property {
    nonisolated(unsafe) static var ignored: Set<String>? = nil

    static func isIgnored(_ name: String) -> Bool {
        if ignored == nil {
            let list = getenv("CRPOD_FUZZ_IGNORE").map { String(cString: $0) } ?? ""
            ignored = Set(list.split(separator: ",").map { String($0).trimmed })
        }
        return ignored?.contains(name) ?? false
    }

    /// Traps with `name: message` when `condition` is false.
    public static func check(
        _ condition: @autoclosure () -> Bool, _ name: String, _ message: @autoclosure () -> String = ""
    ) {
        guard !condition(), !isIgnored(name) else { return }
        fatalError("property \(name) violated: \(message())")
    }
}

extension String {
    var trimmed: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}

/// A private scratch directory for the whole fuzzing process (`$TMPDIR` or /tmp), removed at
/// exit. Inputs that need files get fresh paths inside it and remove them afterwards.
public enum Scratch {
    nonisolated(unsafe) static var root: String?
    nonisolated(unsafe) static var counter = 0

    /// The process's scratch directory, created on first use.
    public static func directory() -> String {
        if let root { return root }
        let base = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/crpod-fuzz-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { fatalError("mkdtemp in \(base) failed: errno \(errno)") }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        root = path
        atexit { Scratch.removeAll() }
        return path
    }

    /// A fresh, not yet existing path in the scratch directory.
    public static func freshPath(_ label: String) -> String {
        counter += 1
        return "\(directory())/\(label)-\(counter)"
    }

    /// Writes `bytes` to a fresh file and returns its path.
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, label: String) -> String {
        let path = freshPath(label)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("cannot create \(path): errno \(errno)") }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                fatalError("cannot write \(path): errno \(errno)")
            }
            offset += n
        }
        close(fd)
        return path
    }

    static func removeAll() {
        if let root { remove(root) }
    }

    /// rm -rf through file descriptors, byte-exact (names need not be UTF-8). Directories
    /// left without permissions are made accessible first.
    public static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            chmod(path, 0o700)
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                emptyDirectory(fd)
                close(fd)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    private static func emptyDirectory(_ fd: Int32) {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else { return }
        defer { closedir(dir) }
        var names: [[CChar]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.bindMemory(to: CChar.self).prefix { $0 != 0 }) + [0]
            }
            if name == [46, 0] || name == [46, 46, 0] { continue }
            names.append(name)
        }
        for name in names {
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                fchmodat(fd, name, 0o700, 0)
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0 {
                    emptyDirectory(child)
                    close(child)
                }
                unlinkat(fd, name, AT_REMOVEDIR)
            } else {
                unlinkat(fd, name, 0)
            }
        }
    }
}

/// One entry of a directory tree, by its path relative to the walked root (raw bytes).
public struct TreeEntry: Sendable, Equatable {
    public var path: [UInt8]
    /// `st_mode & S_IFMT`.
    public var type: UInt32
    public var size: Int64

    public var isDirectory: Bool { type == UInt32(S_IFDIR) }
    public var isRegularFile: Bool { type == UInt32(S_IFREG) }
}

extension Scratch {
    /// Every entry below `root` (not following symlinks), parents before children.
    public static func walk(_ root: String) -> [TreeEntry] {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var entries: [TreeEntry] = []
        walk(fd, prefix: [], into: &entries)
        return entries
    }

    private static func walk(_ fd: Int32, prefix: [UInt8], into entries: inout [TreeEntry]) {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else { return }
        var names: [[CChar]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.bindMemory(to: CChar.self).prefix { $0 != 0 }) + [0]
            }
            if name == [46, 0] || name == [46, 46, 0] { continue }
            names.append(name)
        }
        closedir(dir)
        for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let path = (prefix.isEmpty ? [] : prefix + [0x2F]) + name.dropLast().map { UInt8(bitPattern: $0) }
            let entry = TreeEntry(path: path, type: UInt32(info.st_mode & S_IFMT), size: Int64(info.st_size))
            entries.append(entry)
            if entry.isDirectory {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0 {
                    walk(child, prefix: path, into: &entries)
                    close(child)
                }
            }
        }
    }

    /// The whole content of a file, or nil.
    public static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue } else { return nil } }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }
}

@_exported import CFuzzerDriver
