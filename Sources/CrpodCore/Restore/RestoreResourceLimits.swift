/// `linux.resources` limits of a restored spec and the cgroup v2 controllers they need.
extension OCISpec {
    /// OCI resource keys and the cgroup v2 controller runc writes them through (`devices` is
    /// an eBPF program on v2 and needs none).
    public static let resourceControllers: [(key: String, controller: String)] = [
        ("memory", "memory"), ("cpu", "cpu"), ("pids", "pids"), ("blockIO", "io"), ("hugepageLimits", "hugetlb"), ("rdma", "rdma"),
    ]

    /// Removes the limits whose controller the target cgroup cannot have (runc would fail on
    /// the missing control file, e.g. "openat2 …/pids.max: no such file or directory"), and
    /// says which went. `available` is the parent cgroup's `cgroup.controllers`.
    public mutating func dropLimits(withoutControllers available: Set<String>, parent: String) -> [String] {
        guard let resources = json.value(atPath: ["linux", "resources"])?.objectValue else { return [] }
        var notes: [String] = []
        for (key, controller) in Self.resourceControllers where resources[key] != nil && !available.contains(controller) {
            json.setValue(nil, atPath: ["linux", "resources", key])
            notes.append("the checkpoint's \(key) limit is not applied: cgroup \(parent) has no \(controller) controller (enable it in its parent's cgroup.subtree_control)")
        }
        return notes
    }
}
