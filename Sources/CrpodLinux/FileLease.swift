#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SystemPackage

/// A flock held on a file of its own for as long as its owner lives: proof to other processes
/// (and to other tasks of the same process, since each lease opens the file anew) that the
/// owner is still at work. The kernel drops it when the owner exits, however it exits, so a
/// lease that can be taken belongs to a process that died. Opened `O_CLOEXEC`: a child
/// (runc, CRIU) never keeps a dead owner's lease alive.
public final class FileLease: Sendable {
    public let path: String
    private let descriptor: Mutex<Int32?>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    /// Creates `path` already locked: the lock is taken on a private temporary name that is then
    /// renamed into place, so nobody ever sees the file unlocked while its owner lives.
    public static func acquire(_ path: String) throws(LinuxError) -> FileLease {
        let temp = "\(path).new-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = try sysCall("create lease", path: temp) { open(temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        do {
            _ = try sysCall("flock", path: temp) { flock(fd, LOCK_EX | LOCK_NB) }
            _ = try sysCall("rename lease", path: path) { rename(temp, path) }
        } catch {
            unlink(temp)
            close(fd)
            throw error
        }
        return FileLease(path: path, descriptor: fd)
    }

    /// Removes the file, then drops the lock (in that order: whoever takes the lock after us
    /// finds no file to mistake for a dead owner's).
    public func release() {
        descriptor.withLock { fd in
            guard let open = fd else { return }
            unlink(path)
            close(open)
            fd = nil
        }
    }

    deinit { release() }

    /// Whether a live process holds the lease at `path` (false when the file does not exist).
    public static func isHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }
}
