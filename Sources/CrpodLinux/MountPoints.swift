#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Mount points inside a container root, resolved as the container would see them
/// (`openat2` RESOLVE_IN_ROOT: a symlink in a hostile rootfs cannot lead out of the root).
public enum MountPoints {
    /// Opens `path` (absolute, inside `root`) as an `O_PATH` descriptor, creating what is
    /// missing: directories on the way, and the last component as a directory or, with
    /// `directory: false`, an empty file (mode 0755 / 0644, as runc). The caller closes it.
    public static func create(_ path: String, in root: String, directory: Bool) throws(LinuxError) -> Int32 {
        let rootFD = try sysCall("open container root", path: root) { open(root, crpod_o_path | O_DIRECTORY | O_CLOEXEC) }
        defer { close(rootFD) }
        let components = path.split(separator: "/").map(String.init)
        var walked = ""
        for (index, name) in components.enumerated() {
            let last = index == components.count - 1
            let parent = walked.isEmpty ? "." : walked
            walked += (walked.isEmpty ? "" : "/") + name
            if (try? openInRoot(rootFD, walked, root: root)).map({ close($0) }) != nil { continue }
            let parentFD = try openInRoot(rootFD, parent, root: root, flags: O_DIRECTORY)
            defer { close(parentFD) }
            if last && !directory {
                let fd = openat(parentFD, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                if fd < 0 && errno != EEXIST { throw LinuxError.syscall(operation: "create mount point", path: root + "/" + walked, errno: .init(rawValue: errno)) }
                if fd >= 0 { close(fd) }
            } else if mkdirat(parentFD, name, 0o755) != 0 && errno != EEXIST {
                throw LinuxError.syscall(operation: "create mount point", path: root + "/" + walked, errno: .init(rawValue: errno))
            }
        }
        return try openInRoot(rootFD, walked.isEmpty ? "." : walked, root: root)
    }

    /// Binds `source` (recursively) onto the mount point open as `targetFD`, through the
    /// descriptor, never by a path that could be swapped.
    public static func bind(_ source: String, onto targetFD: Int32, path: String) throws(LinuxError) {
        let bindRecursive: UInt = 0x1000 | 0x4000
        try shimCall("bind mount \(source)", path: path) { crpod_mount(source, "/proc/self/fd/\(targetFD)", nil, bindRecursive, nil) }
    }

    /// Detaches the mount at `path` inside `root` (resolved in the root, so a symlink planted
    /// there cannot make this unmount a host path). Not a mount point: done.
    public static func unmount(_ path: String, in root: String) throws(LinuxError) {
        let rootFD = try sysCall("open container root", path: root) { open(root, crpod_o_path | O_DIRECTORY | O_CLOEXEC) }
        defer { close(rootFD) }
        let fd = try openInRoot(rootFD, String(path.drop { $0 == "/" }), root: root)
        defer { close(fd) }
        try Mounts.unmount("/proc/self/fd/\(fd)")
    }

    static func openInRoot(_ rootFD: Int32, _ relative: String, root: String, flags: Int32 = 0) throws(LinuxError) -> Int32 {
        try shimCall("open in container root", path: root + "/" + relative) {
            crpod_openat2(rootFD, relative.isEmpty ? "." : relative, crpod_o_path | flags | O_CLOEXEC, 0,
                          crpod_resolve_in_root | crpod_resolve_no_magiclinks)
        }
    }
}
