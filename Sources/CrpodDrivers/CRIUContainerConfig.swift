/// A CRIU configuration file for one container, handed to CRIU by runc through the
/// `org.criu.config` annotation at checkpoint and at restore (runc ≥ 1.0 passes it as the RPC
/// `config_file`; CRIU ≥ 3.11 reads it after the RPC options, so its lines win).
public enum CRIUContainerConfig {
    /// The OCI annotation runc reads; without it runc uses `defaultPath`.
    public static let annotation = "org.criu.config"
    /// What runc hands CRIU when the annotation is absent.
    public static let defaultPath = "/etc/criu/runc.conf"

    public enum Problem: Error, Equatable, CustomStringConvertible {
        /// CRIU's config parser splits on spaces and knows no escapes.
        case unquotablePath(String)
        public var description: String {
            switch self {
            case let .unquotablePath(path): "cgroup path \"\(path)\" cannot be written to a CRIU config file (it holds a quote, backslash or line break)"
            }
        }
    }

    /// The file's text: the host's runc.conf lines first (an administrator's settings still
    /// apply), then crpod's:
    /// - `manage-cgroups soft`;
    /// - a `cgroup-root` for the unified hierarchy (CRIU names it by the empty controller:
    ///   `:<path>`) naming the container's own cgroup. At restore CRIU rewrites the
    ///   checkpoint's unified root (the SOURCE container's path) to it — runc passes such
    ///   roots only on v1/hybrid hosts, not on v2 — and unshares a private cgroup namespace at
    ///   the new root, so the container still sees `0::/`. Not a global root: that would also
    ///   apply to v1 controllers listed in a checkpoint and make CRIU create the path there.
    /// - with `unifiedOnly` (crpod manages cgroup v2 alone), `cgroup-dump-controller ""`:
    ///   the checkpoint holds only the unified hierarchy. On a v2-only host that is all there
    ///   is; on a unified view of a hybrid host /proc/<pid>/cgroup still lists v1 controllers
    ///   at `/`, and CRIU would otherwise record (and at restore re-create) the whole v1 tree.
    public static func text(cgroupRoot: String, unifiedOnly: Bool, hostDefaults: String?) throws(Problem) -> String {
        guard !cgroupRoot.contains(where: { $0 == "\"" || $0 == "\\" || $0.isNewline }) else {
            throw .unquotablePath(cgroupRoot)
        }
        var lines = (hostDefaults ?? "").split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        lines.append("manage-cgroups soft")
        lines.append("cgroup-root \":\(cgroupRoot)\"")
        if unifiedOnly { lines.append("cgroup-dump-controller \"\"") }
        return lines.joined(separator: "\n") + "\n"
    }
}
