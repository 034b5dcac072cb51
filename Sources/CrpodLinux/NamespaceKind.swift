import CShims
import CrpodCore

/// What only the kernel knows about a namespace kind; the names live in CrpodCore's table.
extension NamespaceKind {
    /// The CLONE_NEW* flag, or nil for a kind crpod does not know.
    public var cloneFlag: Int32? {
        switch self {
        case .ipc: crpod_clone_newipc
        case .net: crpod_clone_newnet
        case .pid: crpod_clone_newpid
        case .uts: crpod_clone_newuts
        case .cgroup: crpod_clone_newcgroup
        case .mnt: crpod_clone_newns
        case .user: crpod_clone_newuser
        case .time: crpod_clone_newtime
        default: nil
        }
    }

    /// `/proc/<pid>/ns/<name>`.
    public func procPath(pid: Int32, procRoot: String = "/proc") -> String {
        "\(procRoot)/\(pid)/ns/\(rawValue)"
    }
}
