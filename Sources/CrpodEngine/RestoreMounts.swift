#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodLinux

/// Host-side pieces of an imported spec that only existed on the machine that made the
/// checkpoint: bind-mount sources (podman's hosts, resolv.conf, .containerenv, /dev/shm) and
/// rlimits above this host's hard limits.
extension Engine {
    /// Files podman bind-mounts into every container, with the content a stand-in gets.
    static let standInFiles: [String: String] = [
        "/etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n", "/etc/resolv.conf": "", "/etc/hostname": "",
        "/run/.containerenv": "",
    ]

    /// Replaces every bind-mount source that does not exist here with a stand-in under
    /// `<container>/mounts/` of the same kind (file or directory). CRIU re-binds them by
    /// destination at restore, so only their existence and kind matter.
    func replaceMissingBindSources(_ spec: inout OCISpec, containerDirectory: String, hostname: String?) throws {
        guard var mounts = spec.json["mounts"]?.arrayValue else { return }
        for index in mounts.indices {
            guard case var .object(mount) = mounts[index], mount["type"]?.stringValue == "bind" || (mount["options"]?.arrayValue ?? []).contains(.string("bind")),
                  let source = mount["source"]?.stringValue, let destination = mount["destination"]?.stringValue,
                  !Files.exists(source) else { continue }
            let standIn = "\(containerDirectory)/mounts/\(index)-" + destination.split(separator: "/").joined(separator: "_")
            try step("create stand-in \(standIn) for \(destination)") {
                try Files.makeDirectories(containerDirectory + "/mounts", mode: 0o700)
                if let content = Self.standInFiles[destination] {
                    let text = destination == "/etc/hostname" ? (hostname ?? "") + "\n" : content
                    try Files.writeAtomically(standIn, Array(text.utf8), mode: 0o644)
                } else {
                    try Files.makeDirectories(standIn, mode: 0o755)
                }
            }
            mount["source"] = .string(standIn)
            mounts[index] = .object(mount)
        }
        spec.json.setValue(.array(mounts), atPath: ["mounts"])
    }

    /// Lowers spec rlimits to this host's hard limits (root here may lack CAP_SYS_RESOURCE).
    func clampRLimits(_ spec: inout OCISpec) {
        guard let limits = spec.json.value(atPath: ["process", "rlimits"])?.arrayValue else { return }
        let hard = Dictionary(ResourceLimits.current().map { ($0.name, $0.hard) }, uniquingKeysWith: { first, _ in first })
        let clamped: [JSONValue] = limits.map { entry in
            guard case var .object(limit) = entry, let type = limit["type"]?.stringValue, let max = hard[type] else { return entry }
            for key in ["soft", "hard"] {
                if let value = limit[key]?.uint64Value, value > max { limit[key] = JSONValue(max) }
            }
            return .object(limit)
        }
        spec.json.setValue(.array(clamped), atPath: ["process", "rlimits"])
    }
}
