#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

public enum CgroupMode: String, Sendable, Codable {
    /// Only cgroup v2, mounted at /sys/fs/cgroup.
    case unified = "v2"
    /// v1 controllers plus a cgroup2 mount (here: /sys/fs/cgroup/unified).
    case hybrid
    /// Only v1 controllers.
    case legacy = "v1"
}

/// One mounted cgroup hierarchy.
public struct CgroupHierarchy: Sendable, Equatable {
    public let mountPoint: String
    public let isUnified: Bool
    /// v1 controllers (`memory`, `name=systemd`); empty for v2.
    public let controllers: [String]
}

/// Which hierarchies exist, read from a mount table.
public struct CgroupLayout: Sendable, Equatable {
    public let mode: CgroupMode
    public let hierarchies: [CgroupHierarchy]

    public var unified: CgroupHierarchy? { hierarchies.first(where: \.isUnified) }

    static let v1Controllers: Set<String> = [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio",
        "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc",
    ]

    public static func detect(mounts: [MountEntry]) throws(LinuxError) -> CgroupLayout {
        var hierarchies: [CgroupHierarchy] = []
        // A hierarchy can be mounted more than once: CRIU mounts its "cgyard" copies under its
        // work directory while it runs (and a CRIU killed mid-restore leaves them behind). When
        // anything is mounted under /sys/fs/cgroup, only that counts: a stray v1 yard copy must
        // not turn a unified host into a hybrid one. Else the first mount of each hierarchy.
        let cgroupMounts = mounts.filter { $0.fsType == "cgroup2" || $0.fsType == "cgroup" }
        let standard = cgroupMounts.filter { $0.mountPoint == "/sys/fs/cgroup" || $0.mountPoint.hasPrefix("/sys/fs/cgroup/") }
        let preferred = standard.isEmpty ? cgroupMounts : standard
        for mount in preferred {
            let unified = mount.fsType == "cgroup2"
            let controllers = unified ? [] : mount.options.filter { v1Controllers.contains($0) || $0.hasPrefix("name=") }
            if hierarchies.contains(where: { $0.isUnified == unified && Set($0.controllers) == Set(controllers) }) { continue }
            hierarchies.append(CgroupHierarchy(mountPoint: mount.mountPoint, isUnified: unified, controllers: controllers))
        }
        let hasV1 = hierarchies.contains { !$0.isUnified }
        let hasV2 = hierarchies.contains(where: \.isUnified)
        switch (hasV1, hasV2) {
        case (false, true): return CgroupLayout(mode: .unified, hierarchies: hierarchies)
        case (true, true): return CgroupLayout(mode: .hybrid, hierarchies: hierarchies)
        case (true, false): return CgroupLayout(mode: .legacy, hierarchies: hierarchies)
        case (false, false): throw LinuxError.notFound(what: "cgroup mount", path: "/proc/self/mounts")
        }
    }

    public static func current() throws(LinuxError) -> CgroupLayout {
        try detect(mounts: MountTable.parse(Files.readText("/proc/self/mounts")))
    }
}

/// A cgroup path inside a hierarchy, like `/crpod/pod-1234`. Refuses `..` and relative paths.
public func validatedCgroupPath(_ path: String) throws(LinuxError) -> String {
    let parts = path[...].fields("/", omittingEmpty: true)
    guard path.utf8.first == UInt8(ascii: "/"), !parts.contains(where: { $0.utf8.elementsEqual("..".utf8) || $0.utf8.elementsEqual(".".utf8) }) else {
        throw LinuxError.parse(file: "cgroup path", line: nil, detail: "\"\(path)\" must be absolute without . or ..")
    }
    return path
}

/// Operations common to v1 and v2 cgroup trees. `root` is the hierarchy's mount point and is
/// injectable, so tests run on a temp directory.
public protocol CgroupTree: Sendable {
    var root: String { get }
}

extension CgroupTree {
    public func directory(_ cgroup: String) throws(LinuxError) -> String {
        let path = try validatedCgroupPath(cgroup)
        return path == "/" ? root : root + path
    }

    public func exists(_ cgroup: String) -> Bool {
        (try? directory(cgroup)).map(Files.isDirectory) ?? false
    }

    public func create(_ cgroup: String) throws(LinuxError) {
        try Files.makeDirectories(try directory(cgroup), mode: 0o755)
    }

    public func move(pid: Int32, to cgroup: String) throws(LinuxError) {
        try Files.writeExisting(try directory(cgroup) + "/cgroup.procs", "\(pid)\n")
    }

    public func processes(in cgroup: String) throws(LinuxError) -> [Int32] {
        try Files.readText(try directory(cgroup) + "/cgroup.procs")
            .split(separator: "\n").compactMap { Int32($0) }
    }

    /// rmdir of the cgroup and of every cgroup nested in it (deepest first); retries briefly
    /// while the kernel still counts exiting tasks. A cgroup that does not exist counts as removed.
    public func remove(_ cgroup: String) throws(LinuxError) {
        for nested in descendants(of: cgroup).reversed() { try removeOne(nested) }
        try removeOne(cgroup)
    }

    /// The cgroups nested in `cgroup`, parents before children (none when it does not exist).
    public func descendants(of cgroup: String) -> [String] {
        guard let dir = try? directory(cgroup), let names = try? Files.listDirectory(dir) else { return [] }
        let prefix = cgroup == "/" ? "" : cgroup
        return names.filter { Files.isDirectory(dir + "/" + $0) }.flatMap { name in
            [prefix + "/" + name] + descendants(of: prefix + "/" + name)
        }
    }

    private func removeOne(_ cgroup: String) throws(LinuxError) {
        let path = try directory(cgroup)
        for attempt in 0..<50 {
            if rmdir(path) == 0 || Glibc.errno == ENOENT { return }
            let code = Errno(rawValue: Glibc.errno)
            guard code == .resourceBusy, attempt < 49 else {
                throw LinuxError.syscall(operation: "rmdir cgroup", path: path, errno: code)
            }
            usleep(20_000)
        }
    }
}

/// A cgroup v2 hierarchy.
public struct CgroupV2Manager: CgroupTree {
    public let root: String
    public init(root: String) { self.root = root }

    /// Finds the cgroup2 mount (/sys/fs/cgroup on pure v2, /sys/fs/cgroup/unified on hybrid).
    public static func discover(mounts: [MountEntry]) throws(LinuxError) -> CgroupV2Manager {
        guard let unified = try CgroupLayout.detect(mounts: mounts).unified else {
            throw LinuxError.notFound(what: "cgroup2 mount", path: "/proc/self/mounts")
        }
        return CgroupV2Manager(root: unified.mountPoint)
    }

    public func controllers(of cgroup: String) throws(LinuxError) -> [String] {
        try Files.readText(try directory(cgroup) + "/cgroup.controllers")
            .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// Kills every process in the cgroup: `cgroup.kill` when the kernel has it, else SIGKILL each.
    public func kill(_ cgroup: String) throws(LinuxError) {
        let killFile = try directory(cgroup) + "/cgroup.kill"
        if Files.exists(killFile) {
            try Files.writeExisting(killFile, "1")
            return
        }
        for pid in try processes(in: cgroup) { Glibc.kill(pid, SIGKILL) }
    }
}

/// A cgroup v1 hierarchy (one or more controllers mounted together).
public struct CgroupV1Tree: CgroupTree {
    public let root: String
    public let controllers: [String]
    public init(root: String, controllers: [String]) {
        self.root = root
        self.controllers = controllers
    }

    /// Creates the cgroup; under cpuset, copies cpus and mems down from the parent first,
    /// because a v1 cpuset child starts empty and refuses tasks until they are set.
    public func createPopulated(_ cgroup: String) throws(LinuxError) {
        guard controllers.contains("cpuset") else { return try create(cgroup) }
        var current = ""
        for part in try validatedCgroupPath(cgroup)[...].fields("/", omittingEmpty: true) {
            let parentDir = try directory(current.isEmpty ? "/" : current)
            current += "/\(part)"
            let dir = try directory(current)
            if Files.isDirectory(dir) { continue }
            try sysCall("mkdir", path: dir) { mkdir(dir, 0o755) }
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let value = try Files.readText("\(parentDir)/\(file)")
                try Files.writeExisting("\(dir)/\(file)", value.isEmpty ? "\n" : value)
            }
        }
    }
}

/// Every hierarchy of the host, so a pod's cgroup exists wherever runc will place members.
public struct CgroupSet: Sendable {
    public let layout: CgroupLayout
    public init(layout: CgroupLayout) { self.layout = layout }

    public var v2: CgroupV2Manager? { layout.unified.map { CgroupV2Manager(root: $0.mountPoint) } }
    public var v1: [CgroupV1Tree] {
        layout.hierarchies.filter { !$0.isUnified }.map { CgroupV1Tree(root: $0.mountPoint, controllers: $0.controllers) }
    }

    /// Creates the cgroup in every hierarchy; on failure removes what it created.
    public func create(_ cgroup: String) throws(LinuxError) {
        var created: [any CgroupTree] = []
        do {
            for tree in v1 {
                if !tree.exists(cgroup) { created.append(tree) }
                try tree.createPopulated(cgroup)
            }
            if let v2, !v2.exists(cgroup) {
                created.append(v2)
                try v2.create(cgroup)
            }
        } catch {
            for tree in created.reversed() { try? tree.remove(cgroup) }
            throw error
        }
    }

    /// The `cgroup.procs` file of the cgroup in every hierarchy.
    public func procsFiles(_ cgroup: String) throws(LinuxError) -> [String] {
        var files: [String] = []
        for tree in v1 { files.append(try tree.directory(cgroup) + "/cgroup.procs") }
        if let v2 { files.append(try v2.directory(cgroup) + "/cgroup.procs") }
        return files
    }

    /// Removes the cgroup from every hierarchy; reports the first failure after trying all.
    public func remove(_ cgroup: String) throws(LinuxError) {
        var firstError: LinuxError?
        let trees: [any CgroupTree] = v1 + (v2.map { [$0] } ?? [])
        for tree in trees {
            do { try tree.remove(cgroup) } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }

    /// Pids in the cgroup or a cgroup nested in it, in any hierarchy (none when it does not exist).
    public func processes(_ cgroup: String) -> [Int32] {
        let trees: [any CgroupTree] = v1 + (v2.map { [$0] } ?? [])
        return Array(Set(trees.flatMap { tree in
            ([cgroup] + tree.descendants(of: cgroup)).flatMap { tree.exists($0) ? (try? tree.processes(in: $0)) ?? [] : [] }
        }))
    }

    /// The directories of this cgroup that still exist (for leak checks).
    public func existingDirectories(_ cgroup: String) -> [String] {
        let trees: [any CgroupTree] = v1 + (v2.map { [$0] } ?? [])
        return trees.compactMap { tree in tree.exists(cgroup) ? try? tree.directory(cgroup) : nil }
    }
}
