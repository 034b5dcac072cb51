#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux

extension Engine {
    /// Where this checkpoint's images and CRIU work directory go, created empty. When the images
    /// only feed an export (`--export` without `--keep`) and the container's memory surely fits,
    /// they go to a private, size-bounded tmpfs under the run root — CRIU writes and the export
    /// reads them without touching the disk (the run root need not be a tmpfs itself). Mount and
    /// directory are journaled temporaries: unmounted and removed when the checkpoint ends however
    /// it ends, and by the next crpod after a kill -9. Otherwise they are on disk in the container
    /// directory, as kept checkpoints always are.
    func prepareCheckpointPaths(_ record: ContainerRecord, request: CheckpointRequest, rollback: Rollback) throws -> CheckpointPaths {
        let onDisk = CheckpointPaths(containerDirectory: store.containerDirectory(record.id))
        var paths = onDisk
        if request.export != nil && !request.keep, let size = checkpointTmpfsSize(record) {
            let mountPoint = "\(settings.runRoot)/work/checkpoint-\(ObjectID.generate().short)"
            paths = CheckpointPaths(scratch: mountPoint, containerDirectory: onDisk.containerDirectory)
            // One journal write (it is fsynced): removing the mount point detaches the mount on it too.
            try rollback.addTemporaries([.removeTree(paths.rootfsDiffDirectory), .removeTree(mountPoint)])
            try step("create \(mountPoint)") { try Files.makeDirectories(mountPoint, mode: 0o700) }
            // Best effort, like the import's: without the tmpfs the same directory is on the run root's disk.
            _ = try? Mounts.mountTmpfs(at: mountPoint, sizeBytes: size)
            FaultPoint.checkpointAfterTmpfs.hit()
        }
        try step("prepare \(paths.images)") {
            // A new checkpoint replaces one kept earlier (`-R` without `--export`).
            for dir in [onDisk.images, onDisk.work] { try Files.removeTree(dir) }
            for dir in [paths.images, paths.work, paths.rootfsDiffDirectory] { try Files.makeDirectories(dir, mode: 0o700) }
        }
        return paths
    }

    /// A tmpfs size for the images of `record`, or nil when they may not fit: what its processes
    /// hold resident (an upper bound of what CRIU dumps: shared file pages are not dumped) plus
    /// 64 MiB must be under half of MemAvailable, the same rule as the import's tmpfs.
    func checkpointTmpfsSize(_ record: ContainerRecord) -> UInt64? {
        guard let pids = try? cgroups().processes(record.cgroupPath), !pids.isEmpty else { return nil }
        var resident: UInt64 = 0
        // A process gone since the listing (the counter's `sleep`) has nothing left to dump.
        for pid in pids { resident += Self.residentBytes(pid: pid) ?? 0 }
        return privateTmpfsSize(neededBytes: resident + (64 << 20))
    }

    /// Half of MemAvailable when `neededBytes` is under it, else nil (then the disk is used).
    /// The tmpfs only takes memory for what is written to it; the bound keeps a runaway from
    /// eating the host's.
    func privateTmpfsSize(neededBytes: UInt64) -> UInt64? {
        guard let available = MemoryInfo.availableBytes() else { return nil }
        return neededBytes < available / 2 ? available / 2 : nil
    }

    /// Resident bytes of `pid` (`/proc/<pid>/statm`, second field), nil when unreadable.
    static func residentBytes(pid: Int32) -> UInt64? {
        guard let text = try? Files.readText("/proc/\(pid)/statm"),
              let pages = text.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return nil }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// After a failed export: the images are all the user has left of the checkpoint, so when
    /// they are on the tmpfs they are copied into the container directory before it goes.
    /// Returns where they are now, or nil when they could not be kept (the cause is logged).
    func keepCheckpointImages(_ paths: CheckpointPaths) -> String? {
        guard paths.scratch != nil else { return paths.images }
        let target = CheckpointPaths(containerDirectory: paths.containerDirectory).images
        do {
            try step("keep the checkpoint images in \(target)") { try ImageCopy.copyTree(from: paths.images, to: target) }
            return target
        } catch {
            try? Files.removeTree(target)
            logger.error("checkpoint images lost with the failed export", metadata: ["path": "\(target)", "error": "\(error)"])
            return nil
        }
    }
}
