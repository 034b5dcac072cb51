import CrpodCore
import SystemPackage

/// Why a device policy could not be put on a cgroup. A container whose policy is not in
/// place must not start: none of these is skipped.
public enum DeviceCgroupError: Error, Equatable, CustomStringConvertible {
    /// The rules themselves (refused before anything was written).
    case rules(DeviceRuleError)
    /// A v1 or hybrid host without the devices controller mounted.
    case noDevicesHierarchy(mode: CgroupMode)
    /// A system call failed (open, write, bpf): its operation, path and errno.
    case system(LinuxError)
    /// The kernel's verifier refused the filter program; `verifierLog` is its log's tail.
    case filterRejected(directory: String, errno: Errno, verifierLog: String)
    /// After the writes, the cgroup's devices.list is not the policy (runc's final check).
    case listMismatch(directory: String, expected: [String], listed: String)

    public var description: String {
        switch self {
        case let .rules(error):
            return error.description
        case let .noDevicesHierarchy(mode):
            return "cgroup mode \(mode.rawValue) without the v1 devices controller mounted: cannot restrict device access"
        case let .system(error):
            return error.description
        case let .filterRejected(directory, errno, log):
            return "bpf(BPF_PROG_LOAD) of the device filter for \(directory): \(errno.description) (errno \(errno.rawValue)); verifier: \(log)"
        case let .listMismatch(directory, expected, listed):
            let shown = listed.split(separator: "\n").joined(separator: ", ")
            return "\(directory)/devices.list does not show the device policy after writing it: want [\(expected.joined(separator: ", "))], listed [\(shown)]"
        }
    }

    /// The errno of a failed system call, if that is what failed.
    public var errno: Errno? {
        switch self {
        case let .system(error): return error.errno
        case let .filterRejected(_, errno, _): return errno
        default: return nil
        }
    }
}
