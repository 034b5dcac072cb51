#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Errors of the Linux layer. Every case names the operation and the path it touched.
public enum LinuxError: Error, CustomStringConvertible, Equatable {
    /// A system call failed.
    case syscall(operation: String, path: String?, errno: Errno)
    /// A kernel file had text crpod could not understand.
    case parse(file: String, line: Int?, detail: String)
    /// Something expected to exist is absent (no cgroup2 mount, no such process).
    case notFound(what: String, path: String?)
    /// A wait ran out of time.
    case timedOut(operation: String, path: String?, seconds: Double)
    /// A file that must be a regular file is something else (`kind`: "a FIFO", "a symbolic
    /// link to /etc/passwd", …); it was not read.
    case notRegularFile(path: String, kind: String)
    /// A regular file larger than the caller reads; nothing was read.
    case fileTooLarge(path: String, size: UInt64, limit: UInt64)

    public var description: String {
        switch self {
        case let .syscall(operation, path, errno):
            let target = path.map { " \($0)" } ?? ""
            return "\(operation)\(target): \(errno.description) (errno \(errno.rawValue))"
        case let .parse(file, line, detail):
            let at = line.map { ":\($0)" } ?? ""
            return "cannot parse \(file)\(at): \(detail)"
        case let .notFound(what, path):
            return "\(what) not found" + (path.map { " at \($0)" } ?? "")
        case let .timedOut(operation, path, seconds):
            return "\(operation)" + (path.map { " \($0)" } ?? "") + " timed out after \(seconds)s"
        case let .notRegularFile(path, kind):
            return "\(path) is \(kind), not a regular file: not read"
        case let .fileTooLarge(path, size, limit):
            return "\(path) has \(size) bytes, over the limit of \(limit): not read"
        }
    }

    public var errno: Errno? {
        if case let .syscall(_, _, errno) = self { return errno }
        return nil
    }
}

/// The one funnel for libc calls that return -1 and set errno: retries EINTR, throws Errno.
@discardableResult
public func sysCall<T: BinaryInteger>(_ operation: String, path: String? = nil, _ body: () -> T) throws(LinuxError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Errno(rawValue: Glibc.errno)
        if code == .interrupted { continue }
        throw LinuxError.syscall(operation: operation, path: path, errno: code)
    }
}

/// The funnel for CShims wrappers, which return -errno instead of setting errno.
@discardableResult
public func shimCall(_ operation: String, path: String? = nil, _ body: () -> Int32) throws(LinuxError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Errno(rawValue: -result)
        if code == .interrupted { continue }
        throw LinuxError.syscall(operation: operation, path: path, errno: code)
    }
}
