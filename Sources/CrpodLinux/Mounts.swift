#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Overlay mounts for container root filesystems.
public enum Mounts {
    public struct Overlay: Sendable, Equatable, Codable {
        public let lower: String
        public let upper: String
        public let work: String
        public let target: String
        public init(lower: String, upper: String, work: String, target: String) {
            self.lower = lower
            self.upper = upper
            self.work = work
            self.target = target
        }

        /// The mount data string; overlayfs separates options with commas, so paths with
        /// commas or colons are refused rather than mis-parsed.
        public func data() throws(LinuxError) -> String {
            for path in [lower, upper, work] where path.contains(",") || path.contains(":") {
                throw LinuxError.parse(file: path, line: nil, detail: "overlay paths may not contain ',' or ':'")
            }
            return "lowerdir=\(lower),upperdir=\(upper),workdir=\(work)"
        }
    }

    public static func mount(_ overlay: Overlay) throws(LinuxError) {
        let data = try overlay.data()
        try shimCall("mount overlay", path: overlay.target) {
            crpod_mount("overlay", overlay.target, "overlay", 0, data)
        }
    }

    /// A private tmpfs (nosuid, nodev, mode 0700) of at most `sizeBytes` at `target`.
    public static func mountTmpfs(at target: String, sizeBytes: UInt64) throws(LinuxError) {
        let nosuidNodev: UInt = 0x2 | 0x4
        try shimCall("mount tmpfs", path: target) {
            crpod_mount("tmpfs", target, "tmpfs", nosuidNodev, "size=\(sizeBytes),mode=0700")
        }
    }

    /// A tmpfs for a pod's /dev/shm: nosuid, nodev, noexec, as podman mounts a container's shm.
    public static func mountShmTmpfs(at target: String, sizeBytes: UInt64) throws(LinuxError) {
        let nosuidNodevNoexec: UInt = 0x2 | 0x4 | 0x8
        try shimCall("mount tmpfs", path: target) {
            crpod_mount("shm", target, "tmpfs", nosuidNodevNoexec, "size=\(sizeBytes),mode=0755")
        }
    }

    /// Lazily unmounts; a path that is not mounted counts as done.
    public static func unmount(_ target: String) throws(LinuxError) {
        let rc = crpod_umount2(target, crpod_mnt_detach)
        if rc == 0 || rc == -EINVAL || rc == -ENOENT { return }
        try shimCall("umount", path: target) { rc }
    }

    public static func isMountPoint(_ path: String) -> Bool {
        guard let text = try? Files.readText("/proc/self/mounts"),
              let mounts = try? MountTable.parse(text) else { return false }
        return mounts.contains { $0.mountPoint == path }
    }
}

/// Resource limits of this process.
public enum ResourceLimits {
    public struct Limit: Sendable, Equatable {
        public let name: String
        public let soft: UInt64
        public let hard: UInt64
    }

    /// Current soft and hard limits for the rlimits a container spec sets.
    public static func current() -> [Limit] {
        let table: [(String, __rlimit_resource_t)] = [("RLIMIT_NOFILE", Int32(RLIMIT_NOFILE.rawValue)), ("RLIMIT_NPROC", Int32(__RLIMIT_NPROC.rawValue))]
        return table.compactMap { name, resource in
            var value = rlimit()
            guard getrlimit(resource, &value) == 0 else { return nil }
            return Limit(name: name, soft: UInt64(value.rlim_cur), hard: UInt64(value.rlim_max))
        }
    }
}

/// /proc/meminfo facts.
public enum MemoryInfo {
    /// MemAvailable in bytes.
    public static func availableBytes(meminfo: String? = nil) -> UInt64? {
        field("MemAvailable:", meminfo: meminfo)
    }

    /// MemTotal in bytes.
    public static func totalBytes(meminfo: String? = nil) -> UInt64? {
        field("MemTotal:", meminfo: meminfo)
    }

    static func field(_ name: String, meminfo: String?) -> UInt64? {
        guard let text = meminfo ?? (try? Files.readText("/proc/meminfo")) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            // A value no host has (over 2^54 kB) is no answer rather than an overflow.
            guard let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return nil }
            let (bytes, overflow) = kilobytes.multipliedReportingOverflow(by: 1024)
            return overflow ? nil : bytes
        }
        return nil
    }
}
