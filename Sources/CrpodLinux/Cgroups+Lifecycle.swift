#if canImport(Glibc)
import Glibc
#endif

extension CgroupV2Manager {
    /// True while a process is in the cgroup or below it (`populated 1` in cgroup.events).
    public func isPopulated(_ cgroup: String) -> Bool {
        guard let dir = try? directory(cgroup), let events = try? Files.readText(dir + "/cgroup.events") else {
            return !((try? processes(in: cgroup)) ?? []).isEmpty
        }
        return events.split(separator: "\n").contains("populated 1")
    }

    /// The controllers `cgroup` hands its children (its `cgroup.subtree_control`).
    public func subtreeControl(of cgroup: String) -> [String] {
        guard let dir = try? directory(cgroup), let text = try? Files.readText(dir + "/cgroup.subtree_control") else { return [] }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// Enables, in `cgroup.subtree_control` of `cgroup`, every controller its parent hands it
    /// (its `cgroup.controllers`), so cgroups made below it can use them. Returns them; none
    /// when the parent delegates nothing (a hybrid host, or a unified view of one: there the
    /// controllers are bound to v1).
    @discardableResult
    public func enableControllers(in cgroup: String) throws(LinuxError) -> [String] {
        let available = try controllers(of: cgroup)
        guard !available.isEmpty else { return [] }
        try Files.writeExisting(try directory(cgroup) + "/cgroup.subtree_control", available.map { "+" + $0 }.joined(separator: " "))
        return available
    }
}

extension CgroupSet {
    /// Creates `cgroup` in every hierarchy and, in cgroup v2, enables the delegated controllers
    /// in the subtree_control of each directory this call created (never in one that already
    /// existed: those belong to whoever made them) — of `cgroup` itself only when
    /// `delegateFromLeaf`. Returns the controllers `cgroup` passes on to its children; when
    /// there are any, its own processes must live in a child cgroup (v2 allows no processes
    /// in a cgroup that delegates).
    public func createDelegating(_ cgroup: String, delegateFromLeaf: Bool) throws(LinuxError) -> [String] {
        let made = v2.map { tree in Self.ancestors(of: cgroup).filter { !tree.exists($0) } } ?? []
        try create(cgroup)
        guard let v2 else { return [] }
        var enabled: [String] = []
        do {
            for dir in made where dir != cgroup || delegateFromLeaf { enabled = try v2.enableControllers(in: dir) }
        } catch {
            try? remove(cgroup)
            throw error
        }
        return delegateFromLeaf && made.last == cgroup ? enabled : []
    }

    /// `/a/b/c` → `/a`, `/a/b`, `/a/b/c`.
    public static func ancestors(of cgroup: String) -> [String] {
        var current = ""
        return cgroup[...].fields("/", omittingEmpty: true).map { part in
            current += "/" + part
            return current
        }
    }

    /// Kills every process in the cgroup and below it, in every hierarchy: v2's `cgroup.kill`
    /// where the kernel has it (one write, no pid races), SIGKILL to each listed pid otherwise.
    /// Waits up to `seconds` for the cgroup to empty.
    public func kill(_ cgroup: String, seconds: Double = 5) throws(LinuxError) {
        if let v2, v2.exists(cgroup) { try v2.kill(cgroup) }
        let deadline = Systemd.monotonicMicroseconds() + UInt64(seconds * 1_000_000)
        while true {
            let left = processes(cgroup)
            if left.isEmpty && !(v2.map { $0.exists(cgroup) && $0.isPopulated(cgroup) } ?? false) { return }
            guard Systemd.monotonicMicroseconds() < deadline else {
                throw LinuxError.timedOut(operation: "kill the processes of cgroup", path: cgroup, seconds: seconds)
            }
            for pid in left { Glibc.kill(pid, SIGKILL) }
            usleep(20_000)
        }
    }

    /// Kills what is left in the cgroup, then removes it and every cgroup below it, everywhere.
    public func killAndRemove(_ cgroup: String) throws(LinuxError) {
        try kill(cgroup)
        try remove(cgroup)
    }
}
