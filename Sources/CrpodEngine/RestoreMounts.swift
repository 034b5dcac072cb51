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

    /// Where a restored container's /dev/shm comes from, when the checkpoint had it as a bind
    /// (a pod member's shared shm, podman's or crpod's): the target pod's /dev/shm when the
    /// container joins the pod's IPC namespace, else a fresh directory of its own. Either is
    /// seeded with the archive's devshm-checkpoint.tar (`seedDevShm`: entries the pod already
    /// has are kept), so files the tasks hold open or mapped there are present for CRIU. A
    /// private tmpfs /dev/shm is left alone: CRIU carries its content in the images.
    func placeDevShm(_ spec: inout OCISpec, archive: ImportedArchive, pod: PodRecord?, containerDirectory: String,
                     rollback: Rollback) async throws -> [String] {
        guard let index = spec.bindMountIndex(destination: "/dev/shm"), var mounts = spec.json["mounts"]?.arrayValue,
              case var .object(mount) = mounts[index] else { return [] }
        let joinsPodIPC = spec.namespacePath(type: OCINamespaceType.ipc) != nil
        let source: String
        if joinsPodIPC, let shared = pod?.shmDirectory, Files.isDirectory(shared) {
            source = shared
        } else {
            source = containerDirectory + "/mounts/dev-shm"
            try makeDevShmDirectory(source)
        }
        mount["source"] = .string(source)
        mounts[index] = .object(mount)
        spec.json.setValue(.array(mounts), atPath: ["mounts"])
        let tar = archive.directory + "/" + CheckpointMember.devShm
        guard Files.exists(tar) else { return [] }
        let seeding = try await seedDevShm(source, fromTar: tar, rollback: rollback)
        return seeding.kept.isEmpty ? [] : ["/dev/shm: the pod's own \(seeding.kept.joined(separator: ", ")) kept; the archive's copies were not restored"]
    }
}
