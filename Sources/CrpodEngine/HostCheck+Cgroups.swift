#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux

/// `crpod check`'s cgroup facts: the mode crpod will use and, where cgroup v2 is in play,
/// what a throwaway cgroup under the cgroup parent proves about delegation and the kernel.
extension Engine {
    func cgroupFacts() -> [CheckFact] {
        guard let layout = try? CgroupLayout.current() else {
            return [CheckFact(name: "cgroups", ok: false, detail: "no cgroup mount found", fix: "mount cgroup2 at /sys/fs/cgroup (or the v1 controllers)", required: true)]
        }
        let mounts = layout.hierarchies.map { $0.isUnified ? "cgroup2 at \($0.mountPoint)" : $0.controllers.joined(separator: ",") }
        let describe: String
        switch layout.mode {
        case .unified: describe = "v2 (unified): \(mounts[0])"
        case .hybrid: describe = "hybrid: v1 controllers place and freeze; \(layout.unified.map { "cgroup2 at \($0.mountPoint)" } ?? "") kept in step"
        case .legacy: describe = "v1: \(mounts.count) hierarchies"
        }
        var facts = [CheckFact(name: "cgroups", ok: true, detail: describe, fix: nil, required: true)]
        if let v2 = CgroupSet(layout: layout).v2 { facts += cgroupV2Facts(v2, unifiedOnly: layout.mode == .unified) }
        return facts
    }

    private func cgroupV2Facts(_ v2: CgroupV2Manager, unifiedOnly: Bool) -> [CheckFact] {
        let parent = settings.cgroupParent
        let probe = v2.probe(under: parent, name: "crpod-check-\(getpid())")
        guard probe.created else {
            return [CheckFact(name: "cgroup v2 delegation", ok: false, detail: "cannot create a cgroup under \(v2.root)\(parent): \(probe.failure ?? "?")",
                              fix: "run crpod as root with \(v2.root) writable, or set cgroup_parent to a cgroup delegated to crpod (systemd: Delegate=yes)", required: true)]
        }
        var facts = [CheckFact(name: "cgroup v2 delegation", ok: true, detail: "crpod can create cgroups under \(v2.root)\(parent)", fix: nil, required: true)]
        facts.append(CheckFact(name: "cgroup v2 freezer", ok: probe.hasFreeze || !unifiedOnly,
                               detail: probe.hasFreeze ? "cgroup.freeze present (CRIU freezes through it)" : "no cgroup.freeze",
                               fix: "checkpoints on cgroup v2 need cgroup.freeze: use a kernel >= 5.2", required: unifiedOnly))
        facts.append(CheckFact(name: "cgroup.kill", ok: probe.hasKill, detail: probe.hasKill ? "present (stop/rm kill a cgroup in one write)" : "absent: SIGKILL per process",
                               fix: "use a kernel >= 5.14 (crpod falls back to SIGKILL per process)", required: false))
        if unifiedOnly {
            let list = probe.controllers.isEmpty ? "none" : probe.controllers.joined(separator: " ")
            facts.append(CheckFact(name: "cgroup v2 controllers", ok: true,
                                   detail: "pods under \(parent) get: \(list) (crpod sets no resource limits, so it needs none)", fix: nil, required: false))
        }
        return facts
    }
}
