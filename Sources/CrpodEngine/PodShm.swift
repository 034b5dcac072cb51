#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux

/// A pod's /dev/shm, shared by every member that joins the pod's IPC namespace, as podman
/// binds its infra's shm directory into each pod member: POSIX shared memory and named
/// semaphores (`shm_open`, `sem_open`) then work between members, like SysV IPC does.
///
///     <runRoot>/pods/<pod id>/          the pod's run directory (removed with the pod)
///         shm-fs/                       a tmpfs (nosuid, nodev, noexec, 64 MiB)
///             shm/                      mode 1777, bound at /dev/shm in every member
///             incoming-<id>/            an archive's devshm-checkpoint.tar, being seeded
///
/// Checkpoints carry its content as podman does (`devshm-checkpoint.tar`); a restore seeds the
/// target's /dev/shm with the entries it lacks (`seedDevShm`): a live pod's own files win.
extension Engine {
    /// podman's default shm size.
    static let podShmBytes: UInt64 = 64 << 20

    func podRunDirectory(_ podID: String) -> String { "\(settings.runRoot)/pods/\(podID)" }

    /// Mounts the pod's shm tmpfs when the pod shares IPC; its removal is journaled in `rollback`.
    func createPodShm(_ pod: inout PodRecord, sizeBytes: UInt64, rollback: Rollback) throws {
        guard pod.shares.contains(NamespaceKind.ipc.rawValue) else { return }
        let filesystem = podRunDirectory(pod.id) + "/shm-fs"
        let shm = filesystem + "/shm"
        try rollback.add(.removeTree(podRunDirectory(pod.id)))
        try step("create \(filesystem)") { try Files.makeDirectories(filesystem, mode: 0o700) }
        try step("mount the pod's shm tmpfs on \(filesystem)") { try Mounts.mountShmTmpfs(at: filesystem, sizeBytes: sizeBytes) }
        try makeDevShmDirectory(shm)
        pod.shmDirectory = shm
        pod.shmSize = sizeBytes
    }

    /// `--shm-size` needs a /dev/shm of the pod's own (ipc shared), at least one page, and at
    /// most half the host's memory (a tmpfs takes RAM).
    func validateShmSize(_ request: PodCreateRequest) throws {
        guard let size = request.shmSize else { return }
        guard request.shares.contains(NamespaceKind.ipc.rawValue) else {
            throw EngineError.invalidInput(what: "--shm-size", detail: "the pod has no /dev/shm of its own: it does not share ipc (--share)")
        }
        let limit = (MemoryInfo.totalBytes() ?? UInt64(1) << 40) / 2
        guard size >= 4096 && size <= limit else {
            throw EngineError.invalidInput(what: "--shm-size", detail: "\(ByteSize.format(size)) is not between 4k and half this host's memory (\(ByteSize.format(limit)))")
        }
    }

    /// A directory to bind at /dev/shm: mode 1777, like the tmpfs runc would mount there.
    func makeDevShmDirectory(_ path: String) throws {
        try step("create \(path)") {
            try Files.makeDirectories(path, mode: 0o755)
            try Files.copyMode(from: path, to: path, override: 0o1777)
        }
    }

    /// Unmounts and removes the pod's run directory (its shm tmpfs).
    func removePodShm(_ pod: PodRecord) {
        removeTreeWithMounts(podRunDirectory(pod.id))
    }

    /// Writes `directory`'s content as a devshm-checkpoint.tar at `tarPath` (podman's layout:
    /// the tree under `./`). Sockets are left out, as in a rootfs diff.
    func snapshotDevShm(_ directory: String, to tarPath: String) async throws {
        try await BlockingThread.run("build \(CheckpointMember.devShm)") { _ in
            _ = try step("build \(CheckpointMember.devShm) from \(directory)") { try RootfsDiff.diff(upperDirectory: directory, tarPath: tarPath) }
        }
    }

    /// What `seedDevShm` did: top-level entries added, and those the target already had (kept).
    struct DevShmSeeding: Sendable, Equatable {
        var added: [String] = []
        var kept: [String] = []
    }

    /// Adds the entries of an archive's devshm-checkpoint.tar that `shmDirectory` lacks. The tar
    /// is hostile input: it is unpacked by `RootfsDiff.apply` (no escapes, no devices, setuid
    /// stripped, limits) into an empty directory beside `shmDirectory` on the same filesystem,
    /// then each top-level entry is renamed in unless one of that name exists (RENAME_NOREPLACE:
    /// the live pod's file wins, and no member ever sees a half-written one). Each entry added is
    /// journaled in `rollback`, so a failed restore takes it out again (a kill -9 between the
    /// rename and the journal write leaves the file in the pod's shm, which goes with the pod).
    func seedDevShm(_ shmDirectory: String, fromTar tarPath: String, rollback: Rollback) async throws -> DevShmSeeding {
        let incoming = Files.parent(of: shmDirectory) + "/incoming-\(ObjectID.generate().short)"
        try rollback.addTemporary(.removeTree(incoming))
        defer { try? Files.removeTree(incoming) }
        try step("create \(incoming)") { try Files.makeDirectories(incoming, mode: 0o700) }
        _ = try await BlockingThread.run("unpack \(CheckpointMember.devShm)") { _ in
            try step("unpack \(CheckpointMember.devShm) into \(incoming)") {
                try RootfsDiff.apply(tarPath: tarPath, upperDirectory: incoming, deletedFiles: [])
            }
        }
        var seeding = DevShmSeeding()
        for name in try step("list \(incoming)") { try Files.listDirectory(incoming) }.sorted() {
            let target = shmDirectory + "/" + name
            if try step("move \(name) into \(shmDirectory)") { try Files.renameIfAbsent(incoming + "/" + name, to: target) } {
                // Journaled once it is there: never a removal of a file the pod had.
                try rollback.add(.removeTree(target))
                seeding.added.append(name)
            } else {
                seeding.kept.append(name)
            }
        }
        return seeding
    }
}
