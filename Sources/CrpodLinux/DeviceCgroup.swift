#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodCore
import SystemPackage

/// Puts a device policy on a container's cgroup as runc 1.1.5 does, for an engine that starts
/// or restores the container without runc. Call it after the cgroup exists in every hierarchy
/// and before any task of the container enters it.
///
/// With CRIU: a cgroup v2 device filter is not in a checkpoint at all, so a restore without
/// this call leaves every device open. On v1, CRIU's `--manage-cgroups=soft` (crpod's mode)
/// restores properties only in cgroups CRIU creates itself, so the policy applied here to the
/// existing cgroup stays; `full`/`strict` would write the dumped devices.list over it.
public enum DeviceCgroup {
    /// What `apply` did, for the log.
    public enum Applied: Sendable, Equatable {
        /// cgroup v1 (hybrid or legacy host): these lines were written to the devices
        /// controller's directory, and its devices.list then showed the policy.
        case v1(directory: String, writes: [DeviceCgroupWrite])
        /// cgroup v2: a filter of `instructions` attached to the directory with
        /// BPF_F_ALLOW_MULTI; `replaced` filters that were attached there before were detached.
        case ebpf(directory: String, instructions: Int, replaced: Int)
    }

    /// The rules runc would give a container of `spec` (the spec's `linux.resources.devices`,
    /// then runc's built-in devices), applied to `cgroup`.
    @discardableResult
    public static func apply(spec: OCISpec, cgroup: String, layout: CgroupLayout) throws(DeviceCgroupError) -> Applied {
        let rules: [DeviceRule]
        do { rules = try DevicePolicy.runcRules(for: spec) } catch { throw .rules(error) }
        return try apply(rules: rules, cgroup: cgroup, layout: layout)
    }

    /// Applies `rules` (in order, to a deny-all start, as runc's device emulator) to `cgroup`
    /// (a path inside the hierarchies, like `/crpod/pod-1/ctr-2`): on cgroup v2 by attaching
    /// runc's eBPF device filter to the cgroup's directory, else through the v1 devices
    /// controller's devices.deny / devices.allow (hybrid hosts too: there the devices
    /// controller is v1).
    @discardableResult
    public static func apply(rules: [DeviceRule], cgroup: String, layout: CgroupLayout) throws(DeviceCgroupError) -> Applied {
        let state: DeviceCgroupState
        do { state = try DeviceCgroupState(rules: rules) } catch { throw .rules(error) }
        if layout.mode == .unified, let unified = layout.unified {
            return try attachFilter(state, directory: directory(cgroup, in: unified.mountPoint))
        }
        guard let devices = layout.hierarchies.first(where: { !$0.isUnified && $0.controllers.contains("devices") }) else {
            throw .noDevicesHierarchy(mode: layout.mode)
        }
        return try writeV1(state, directory: directory(cgroup, in: devices.mountPoint))
    }

    private static func directory(_ cgroup: String, in root: String) throws(DeviceCgroupError) -> String {
        do {
            let path = try validatedCgroupPath(cgroup)
            return path == "/" ? root : root + path
        } catch { throw .system(error) }
    }

    // MARK: - cgroup v1

    /// The default first, then each exception; then runc's final check against devices.list.
    static func writeV1(_ state: DeviceCgroupState, directory: String) throws(DeviceCgroupError) -> Applied {
        let writes = state.v1Writes
        let listed: String
        do {
            for write in writes { try Files.writeExisting(directory + "/" + write.file, write.line) }
            listed = try Files.readText(directory + "/devices.list")
        } catch { throw .system(error) }
        guard let shown = try? DeviceCgroupState(devicesList: listed), state.isShown(by: shown) else {
            throw .listMismatch(directory: directory, expected: writes.map(\.line), listed: listed)
        }
        return .v1(directory: directory, writes: writes)
    }
}
