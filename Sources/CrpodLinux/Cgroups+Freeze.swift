/// The cgroup v2 freezer (`cgroup.freeze`, `cgroup.events`): present in every non-root cgroup
/// of a cgroup2 hierarchy, the unified one of a hybrid host included, whatever controllers it has.
extension CgroupV2Manager {
    /// Writes `cgroup.freeze` of `cgroup` (1 freezes it and its descendants, 0 lifts its own
    /// freeze: a descendant frozen itself, or below a frozen ancestor, stays frozen).
    public func setFrozen(_ cgroup: String, _ frozen: Bool) throws(LinuxError) {
        try Files.writeExisting(try directory(cgroup) + "/cgroup.freeze", frozen ? "1" : "0")
    }

    /// Whether `cgroup.events` says every task of `cgroup` is frozen.
    public func isFrozen(_ cgroup: String) throws(LinuxError) -> Bool {
        let events = try Files.readText(try directory(cgroup) + "/cgroup.events")
        return events.split(separator: "\n").contains("frozen 1")
    }
}
