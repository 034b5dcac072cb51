#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CrpodCore
import CrpodLinux
import SystemPackage

/// A cgroup yard for CRIU (`--cgroup-yard DIR`): one entry per hierarchy, named as CRIU names
/// it, each a symlink to where this host mounts that hierarchy.
///
/// Why: without a yard, every `criu dump` mounts each hierarchy of the tree's cgroups itself
/// (`collect_cgroups` → `open_cgroupfs`) — *while the tree is frozen* — and every `criu
/// restore` mounts a tmpfs with all of them (`make_yard`), unmounting both afterwards (a CRIU
/// killed meanwhile leaves those mounts behind). Measured here (hybrid host, 10 hierarchies):
/// ~12 ms of each dump's frozen time went to those mounts; with this yard the step takes
/// 0.05 ms and `cgroup.img` is byte-for-byte the same. CRIU opens `DIR/<name>` and works
/// below it (`openat` through the yard's descriptor), so symlinks serve as well as mounts and
/// there is nothing to unmount. The symlinks are relative (`../../../sys/fs/cgroup/memory`):
/// a restored task moves itself into its cgroup through the yard's descriptor after it has
/// entered the container's root, where an absolute target would resolve inside the container;
/// `..` from the yard walks the host's mount tree, which the descriptor belongs to.
///
/// Names (CRIU 4.2, criu/cgroup.c): the unified hierarchy is `unified`; at dump a v1
/// hierarchy is its `/proc/<pid>/cgroup` controller field with a leading `name=` cut
/// (`name=systemd` → `systemd`), at restore its controllers joined by `,` with `name=` cut
/// from each. A yard is only passed when it has every name the operation
/// needs: CRIU would otherwise mount the missing hierarchy inside the yard and, since the
/// yard is the caller's, never unmount it.
public struct CRIUCgroupYard: Sendable, Equatable {
    /// CRIU's name → the hierarchy's mount point.
    public var entries: [String: String]

    public init(entries: [String: String]) { self.entries = entries }

    /// The yard of every hierarchy in `layout`.
    public init(layout: CgroupLayout) {
        var entries: [String: String] = [:]
        for hierarchy in layout.hierarchies {
            if hierarchy.isUnified {
                entries["unified"] = hierarchy.mountPoint
            } else {
                entries[Self.dumpName(controllers: hierarchy.controllers)] = hierarchy.mountPoint
                entries[Self.restoreName(controllers: hierarchy.controllers)] = hierarchy.mountPoint
            }
        }
        self.entries = entries
    }

    /// The name a dump opens for a `/proc/<pid>/cgroup` line with these controllers.
    public static func dumpName(controllers: [String]) -> String {
        let joined = controllers.joined(separator: ",")
        if joined.isEmpty { return "unified" }
        return joined.hasPrefix(namePrefix) ? String(joined.dropFirst(namePrefix.count)) : joined
    }

    /// The name a restore opens for a `cgroup.img` controller with these names.
    public static func restoreName(controllers: [String]) -> String {
        controllers.map { name in
            let cut = name.hasPrefix(namePrefix) ? String(name.dropFirst(namePrefix.count)) : name
            return cut.isEmpty ? "unified" : cut
        }.joined(separator: ",")
    }

    static let namePrefix = "name="

    /// The names a dump of a task of `pid` ("self" too) opens: one per line of its
    /// `/proc/<pid>/cgroup`; nil when the file cannot be read.
    public static func dumpNames(ofProcess pid: String) -> [String]? {
        let path = "/proc/\(pid)/cgroup"
        guard let lines = try? ProcCgroup.parse(Files.readText(path), file: path) else { return nil }
        return lines.map { dumpName(controllers: $0.controllers) }
    }

    /// Those of `names` the yard has no entry for.
    public func missing(_ names: [String]) -> [String] { names.filter { entries[$0] == nil } }

    /// Whether the yard has every one of `names`.
    public func covers(_ names: [String]) -> Bool { missing(names).isEmpty }

    /// The directory name under the parent: a hash of the entries, so a host whose hierarchies
    /// change gets a new yard and concurrent crpod processes agree on one.
    var directoryName: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (name, target) in entries.sorted(by: { $0.key < $1.key }) {
            for byte in "\(name)\0\(target)\n".utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        return String(hash, radix: 16)
    }

    /// The yard's directory under `parent` (made once: filled under a temporary name, then
    /// renamed into place; a yard already there is checked entry by entry).
    public func materialize(under parent: String) throws -> String {
        let path = parent + "/" + directoryName
        if Files.isDirectory(path) {
            try check(path)
            return path
        }
        let staging = try Files.makeTemporaryDirectory(in: parent, prefix: ".staging-")
        do {
            for (name, target) in links(at: path).sorted(by: { $0.key < $1.key }) {
                guard symlink(target, staging + "/" + name) == 0 else {
                    throw DriverError.fileFailed(operation: "symlink \(target)", path: staging + "/" + name, errno: Errno(rawValue: errno))
                }
            }
            if try !Files.renameIfAbsent(staging, to: path) { try Files.removeTree(staging) }
        } catch {
            try? Files.removeTree(staging)
            throw error
        }
        try check(path)
        return path
    }

    /// Each entry's symlink text for a yard at `path`: up to `/`, then the mount point.
    func links(at path: String) -> [String: String] {
        let up = String(repeating: "../", count: PathText.components(path).count)
        return entries.mapValues { up + PathText.components($0).joined(separator: "/") }
    }

    /// Every entry of the yard at `path` is the symlink it should be, and there is no other.
    func check(_ path: String) throws {
        let names = try Files.listDirectory(path)
        let links = links(at: path)
        for name in names where links[name] == nil || Files.readLink(path + "/" + name) != links[name] {
            throw DriverError.fileFailed(operation: "check the cgroup yard entry \(name)", path: path, errno: .fileExists)
        }
        guard Set(names) == Set(entries.keys) else {
            throw DriverError.fileFailed(operation: "check the cgroup yard's entries", path: path, errno: .noSuchFileOrDirectory)
        }
    }
}
