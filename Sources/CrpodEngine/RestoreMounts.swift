#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodLinux

/// Host-side pieces of an imported spec that only existed on the machine that made the
/// checkpoint: bind-mount sources (podman's hosts, resolv.conf, .containerenv, /dev/shm).
/// (Rlimits above this host's hard limits are lowered by the recipe: `clampingRLimits`.)
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
}
