/// What a cgroup v2 tree lets crpod do under a parent, found by making a throwaway cgroup.
public struct CgroupV2ProbeResult: Sendable, Equatable {
    /// The probe cgroup could be created (and removed): the tree is delegated to crpod.
    public var created: Bool
    /// Why it could not, when it could not.
    public var failure: String?
    /// `cgroup.freeze` exists (kernel ≥ 5.2): the freezer CRIU uses on v2.
    public var hasFreeze: Bool
    /// `cgroup.kill` exists (kernel ≥ 5.14).
    public var hasKill: Bool
    /// The controllers a cgroup at that level (a pod's) receives from the parent.
    public var controllers: [String]
}

extension CgroupV2Manager {
    /// Creates `<parent>/<name>`, reads what it offers, and removes it again together with
    /// every ancestor it had to create (so nothing is left behind).
    public func probe(under parent: String, name: String) -> CgroupV2ProbeResult {
        var result = CgroupV2ProbeResult(created: false, failure: nil, hasFreeze: false, hasKill: false, controllers: [])
        let cgroup = (parent == "/" ? "" : parent) + "/" + name
        let made = CgroupSet.ancestors(of: cgroup).filter { !exists($0) }
        defer { for dir in made.reversed() { try? remove(dir) } }
        do {
            try create(cgroup)
            let dir = try directory(cgroup)
            result.created = true
            result.hasFreeze = Files.exists(dir + "/cgroup.freeze")
            result.hasKill = Files.exists(dir + "/cgroup.kill")
            result.controllers = try controllers(of: cgroup)
        } catch {
            result.failure = error.description
        }
        return result
    }
}
