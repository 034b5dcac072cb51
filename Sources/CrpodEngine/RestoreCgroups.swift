#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux

/// Where restored tasks go, on cgroup v1, hybrid and v2 alike.
///
/// runc restore creates the container's cgroup from config.json (`cgroupsPath`: the target
/// pod's `<pod>/<container>`) and moves CRIU into it before CRIU forks the tasks. On v1 (and
/// the v1 half of a hybrid host) it also hands CRIU that path as the cgroup root of every
/// controller, and CRIU rewrites the checkpoint's root to it. On a unified (v2-only) host runc
/// 1.1 hands over no root at all, so CRIU re-creates the checkpoint's own path — the SOURCE
/// pod's — and puts the tasks there (CRIU issue 1524; seen here with CRIU 4.1.1 and 4.2.1).
///
/// Options weighed: `--manage-cgroups-mode ignore` would keep the tasks in CRIU's (right)
/// cgroup, but runc 1.1.5 rejects that mode and, worse, CRIU in ignore mode skips the cgroup
/// namespace entirely, so a container with a private cgroupns would see the host's tree
/// instead of `0::/`. Moving the tasks after the restore has the same cgroupns problem.
/// So crpod writes a per-container CRIU config file with a unified `cgroup-root` equal to the
/// container's cgroup (see `CRIUContainerConfig`) and points the `org.criu.config` annotation
/// at it, from `crpod run` on (runc reads it at checkpoint too) and again at every restore:
/// CRIU then rewrites the root for the unified hierarchy as runc does for the v1 ones and
/// unshares the cgroup namespace at the right place. Setting the annotation also means
/// an archive's own `org.criu.config` (a path to options CRIU would obey as root) never
/// reaches CRIU. After the restore every task of the container is checked in every hierarchy
/// crpod manages; a task anywhere else fails the restore loudly, and directories CRIU made
/// for the stray path are removed.
extension Engine {
    /// Writes `<container dir>/criu.conf` for `record` and returns its path, for the
    /// `org.criu.config` annotation of the container's config.json.
    func writeCRIUConfig(_ record: ContainerRecord) throws -> String {
        let configPath = store.containerDirectory(record.id) + "/criu.conf"
        let hostDefaults = try? Files.readText(CRIUContainerConfig.defaultPath, limit: 1 << 16)
        let layout = try step("read cgroup layout") { try CgroupLayout.current() }
        let text = try step("write \(configPath)") {
            try CRIUContainerConfig.text(cgroupRoot: record.cgroupPath, unifiedOnly: layout.mode == .unified, hostDefaults: hostDefaults)
        }
        try step("write \(configPath)") { try Files.writeAtomically(configPath, Array(text.utf8), mode: 0o600) }
        return configPath
    }

    /// Rewrites the container's CRIU config and names it in the bundle's config.json.
    func pinRestoreCgroup(_ record: ContainerRecord) throws {
        let configPath = try writeCRIUConfig(record)
        let specPath = record.bundle + "/config.json"
        var spec = try step("read \(specPath)") { try OCISpec(data: Data(Files.read(specPath)), context: specPath) }
        spec.annotations[CRIUContainerConfig.annotation] = configPath
        try step("write \(specPath)") { try Files.writeAtomically(specPath, Array(try spec.data())) }
    }

    /// The shallowest missing ancestor of `cgroup` in each hierarchy: what CRIU would have to
    /// create to put a task at `cgroup`, so what to remove if it did.
    func missingCgroupAncestors(_ cgroup: String) throws -> [(tree: any CgroupTree, cgroup: String)] {
        let cgroups = try cgroups()
        let trees: [any CgroupTree] = cgroups.v1 + (cgroups.v2.map { [$0] } ?? [])
        return trees.compactMap { tree in
            CgroupSet.ancestors(of: cgroup).first { !tree.exists($0) }.map { (tree, $0) }
        }
    }

    /// Every task of the restored container must sit in `record.cgroupPath` in every
    /// hierarchy; otherwise kill them, remove what CRIU created at `strays`, and refuse.
    func verifyRestoredPlacement(_ record: ContainerRecord, strays: [(tree: any CgroupTree, cgroup: String)]) throws {
        let pidFile = record.bundle + "/pid"
        let text = try step("read \(pidFile)") { try Files.readText(pidFile) }
        guard let pid = Int32(text.trimmingCharacters(in: " \n")) else {
            throw EngineError.step("read \(pidFile)", cause: LinuxError.parse(file: pidFile, line: 1, detail: "not a pid: \"\(text)\""))
        }
        let layout = try step("read cgroup layout") { try CgroupLayout.current() }
        let tasks = Processes.tree(root: pid)
        // A zombie CRIU restored (a child that had exited at the dump) has left its cgroups:
        // the kernel shows an exited task at the root of every v1 hierarchy. Nothing of it runs.
        // A short-lived child (the counter's `sleep`) may also exit between the two reads: the
        // kernel then shows it at the root of every v1 hierarchy as soon as it is in do_exit
        // (PF_EXITING), before it is a zombie. Only what still runs, and is not exiting, counts.
        let wrong = CgroupPlacement.check(pids: tasks.filter(Self.livesOn), expected: record.cgroupPath, layout: layout)
            .filter { Self.livesOn($0.pid) }
        guard !wrong.isEmpty else { return }
        for task in tasks.reversed() { kill(task, SIGKILL) }
        for stray in strays where stray.tree.exists(stray.cgroup) {
            try? stray.tree.remove(stray.cgroup)
        }
        throw EngineError.restoreMisplaced(container: record.name, problems: wrong.map(\.description))
    }

    /// Whether `pid` runs and has not begun to exit.
    static func livesOn(_ pid: Int32) -> Bool {
        guard let stat = Processes.runningStat(pid) else { return false }
        return !stat.isExiting
    }

    /// On cgroup v2 only: the checkpoint's resource limits whose controller the container's
    /// parent cgroup does not have are dropped, with a note (on v1 each has its hierarchy).
    func dropUnavailableLimits(_ spec: inout OCISpec, cgroup: String) throws -> [String] {
        let layout = try step("read cgroup layout") { try CgroupLayout.current() }
        guard layout.mode == .unified, let v2 = CgroupSet(layout: layout).v2 else { return [] }
        // runc creates missing ancestors and enables what each one offers down the path, so the
        // nearest existing ancestor's controllers are what the container can get — unless that
        // ancestor holds processes itself (a pod's infra): then only its subtree_control.
        let parent = Files.parent(of: cgroup)
        let existing = ([parent] + CgroupSet.ancestors(of: parent).reversed().dropFirst() + ["/"]).first { v2.exists($0) } ?? "/"
        let busy = existing != "/" && !((try? v2.processes(in: existing)) ?? []).isEmpty
        let available = busy ? v2.subtreeControl(of: existing) : (try? v2.controllers(of: existing)) ?? []
        return spec.dropLimits(withoutControllers: Set(available), parent: existing)
    }

    /// On a unified (v2-only) layout, refuses a checkpoint taken on a v1 or hybrid host: its
    /// cgroup.img names v1 hierarchies this host cannot mount, and its mount tree holds the
    /// v1 cgroup bind mounts runc made there, which runc restores on v2 as one cgroup2 mount
    /// (CRIU: "No mapping for …(null) mountpoint"). Cross-mode migration is not supported.
    func refuseCheckpointFromAnotherCgroupMode(_ images: String) throws {
        let layout = try step("read cgroup layout") { try CgroupLayout.current() }
        let path = images + "/" + CRIUCgroupImage.name
        guard layout.mode == .unified, Files.exists(path) else { return }
        let bytes = try step("read \(path)") { try Files.read(path) }
        let v1 = try step("read \(path)") { try CRIUCgroupImage.v1Controllers(bytes) }
        guard !v1.isEmpty else { return }
        throw EngineError.restoreRefused(problems: [
            "the checkpoint was taken on a cgroup v1 or hybrid host (it records the v1 hierarchies \(v1.joined(separator: " "))); "
                + "this host uses cgroup v2 only, where runc cannot restore its v1 cgroup mounts: restore it on a v1 or hybrid host"])
    }
}
