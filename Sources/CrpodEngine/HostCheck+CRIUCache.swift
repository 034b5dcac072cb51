#if canImport(Glibc)
import Glibc
#endif
import CrpodDrivers
import CrpodLinux

/// CRIU's kernel-data cache, as it costs every `criu dump` and `criu restore`.
///
/// Why: each criu run first probes the kernel (`kerndat_init`: it execs `iptables -L`,
/// `ip6tables -L` and `sh -c "iptables -n -w -L"`, forks test children, opens test sockets)
/// unless it can load `/run/criu.kdat`, which it writes only on a tmpfs (CRIU 4.2's
/// `kerndat_save_cache`: "Can't keep kdat cache on non-tempfs"). It creates
/// `/run/criu.kdat.tmp` with O_EXCL first, so a `.tmp` left behind (a criu killed in that
/// window; on a non-tmpfs /run CRIU 4.2 leaves it itself) stops every later run from saving.
/// Measured here (`criu check`, 5 runs each): 45–55 ms without the cache, 14–18 ms with it;
/// `crpod restore` of the small counter: median ~147 ms with /run on ext4, ~104 ms with /run
/// on tmpfs.
enum CRIUCacheAdvice {
    static let cachePath = "/run/criu.kdat"
    static let leftoverPath = "/run/criu.kdat.tmp"
    /// A `.tmp` younger than this may belong to a criu writing the cache right now.
    static let leftoverAgeSeconds: Int64 = 60

    struct Facts: Equatable {
        /// The file system type of the mount that holds /run (nil: not found).
        var runFileSystem: String?
        var cacheExists: Bool
        /// Seconds since the `.tmp` was last modified (nil: there is none).
        var leftoverAge: Int64?
    }

    static let name = "criu kerndat cache"

    static func fact(_ facts: Facts) -> CheckFact {
        let fileSystem = facts.runFileSystem ?? "unknown"
        guard fileSystem == "tmpfs" else {
            return CheckFact(
                name: name, ok: false,
                detail: "/run is \(fileSystem), not tmpfs: CRIU keeps \(cachePath) only on tmpfs, so every criu run (each checkpoint "
                    + "and restore) probes the kernel again (iptables -L and more: about 35 ms a run, measured here)",
                fix: "boot with /run on tmpfs (systemd does); crpod cannot move CRIU's cache", required: false)
        }
        if facts.cacheExists {
            return CheckFact(name: name, ok: true, detail: "kept in \(cachePath)", fix: nil, required: false)
        }
        if let age = facts.leftoverAge, age >= leftoverAgeSeconds {
            return CheckFact(
                name: name, ok: false,
                detail: "\(leftoverPath), left by an interrupted criu \(age) s ago, stops CRIU from writing \(cachePath): "
                    + "every criu run probes the kernel again (about 35 ms a run, measured here)",
                fix: "rm \(leftoverPath)", required: false)
        }
        return CheckFact(name: name, ok: true, detail: "not written yet: the next criu run writes \(cachePath)", fix: nil, required: false)
    }

    /// The file system type of the mount that holds `path`: the last mount listed at the
    /// longest mount point that is `path` or one of its ancestors (a later mount hides an earlier one).
    static func fileSystem(holding path: String, in mounts: [MountEntry]) -> String? {
        var best: MountEntry?
        for mount in mounts where covers(mount.mountPoint, path) {
            if let current = best, current.mountPoint.count > mount.mountPoint.count { continue }
            best = mount
        }
        return best?.fsType
    }

    private static func covers(_ mountPoint: String, _ path: String) -> Bool {
        mountPoint == "/" || path == mountPoint || path.hasPrefix(mountPoint + "/")
    }
}

extension Engine {
    func criuCacheFact() -> CheckFact {
        let mounts = (try? Files.readText("/proc/self/mounts")).flatMap { try? MountTable.parse($0) } ?? []
        var leftover = stat()
        var age: Int64?
        if stat(CRIUCacheAdvice.leftoverPath, &leftover) == 0 {
            age = max(0, Int64(time(nil)) - Int64(leftover.st_mtim.tv_sec))
        }
        return CRIUCacheAdvice.fact(.init(
            runFileSystem: CRIUCacheAdvice.fileSystem(holding: "/run", in: mounts),
            cacheExists: Files.exists(CRIUCacheAdvice.cachePath), leftoverAge: age))
    }
}

/// Whether crpod's cgroup yard (see `CRIUCgroupYard`) covers this host's hierarchies, so
/// CRIU mounts none of them while a tree is frozen.
enum CgroupYardAdvice {
    static let name = "criu cgroup yard"

    /// `listed`: the hierarchies `/proc/self/cgroup` names (CRIU's dump names); `missing`:
    /// those the yard of the mounted hierarchies lacks.
    static func fact(listed: [String], missing: [String], root: String) -> CheckFact {
        guard missing.isEmpty else {
            return CheckFact(
                name: name, ok: false,
                detail: "hierarchies the kernel lists but this mount namespace does not mount: \(missing.joined(separator: " ")): "
                    + "dumps go without crpod's yard and CRIU mounts them while the tree is frozen (about 12 ms, measured here)",
                fix: "mount every cgroup hierarchy under /sys/fs/cgroup, or run crpod in the host's mount namespace", required: false)
        }
        return CheckFact(name: name, ok: true,
                         detail: "CRIU opens the \(listed.count) hierarchies through \(root) (no cgroup mounts while a tree is frozen)",
                         fix: nil, required: false)
    }
}

extension Engine {
    func cgroupYardFact() -> CheckFact? {
        guard let layout = try? CgroupLayout.current(), let names = CRIUCgroupYard.dumpNames(ofProcess: "self") else { return nil }
        return CgroupYardAdvice.fact(listed: names, missing: CRIUCgroupYard(layout: layout).missing(names), root: settings.cgroupYardRoot)
    }
}
