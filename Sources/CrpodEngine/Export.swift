#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodDrivers
import CrpodLinux

extension Engine {
    /// Writes the podman-compatible archive: config.dump, spec.dump, checkpoint/, rootfs-diff.tar,
    /// deleted.files, network.status, stats-dump and, last, the manifest.
    func exportArchive(_ record: ContainerRecord, paths: CheckpointPaths, to destination: String, request: CheckpointRequest) async throws {
        let member = try await exportMember(record, paths: paths, ignoreRootfs: request.ignoreRootfs)
        try await writeArchive(to: destination, request: request) { writer in
            try addMember(writer, member, prefix: "")
        }
    }

    /// Writes an archive to `destination` through `addMembers`, then the manifest; it appears
    /// under its final name only when complete (temp file, fsync, rename), mode 0600.
    func writeArchive(to destination: String, request: CheckpointRequest, _ addMembers: @escaping @Sendable (ArchiveWriter) throws -> Void) async throws {
        // Through the caller's directory fd when it opened one (the API confines it that way).
        let target = request.exportDirectory.map { $0.anchoredPath(String(destination.split(separator: "/").last ?? "")) } ?? destination
        try await withRollback("export \(destination)") { rollback in
            try await BlockingThread.run("export \(destination)") { _ in
                let writer = try step("create \(destination)") {
                    try ArchiveWriter(destination: target, compression: request.compression ?? .zstd, threads: 2, progress: request.progress)
                }
                try rollback.addTemporary(.removeTree(writer.temporaryPath))
                FaultPoint.exportAfterTemp.hit()
                do {
                    try addMembers(writer)
                    _ = try writer.finish(manifestName: CheckpointMember.manifest)
                } catch {
                    writer.abort()
                    throw EngineError.step("write archive \(destination)", cause: error)
                }
            }
        }
    }

    /// What one container contributes to an archive, gathered before the writer opens:
    /// rootfs-diff.tar built, config.dump and spec.dump encoded.
    struct ExportedMember: Sendable {
        let paths: CheckpointPaths
        let config: [UInt8]
        let spec: [UInt8]
        /// nil with --ignore-rootfs.
        let diffTar: String?
        let deleted: [String]
        /// The content of a bound /dev/shm (a pod's), as devshm-checkpoint.tar; nil without one.
        var devShmTar: String? = nil
    }

    /// `withDevShm`: false when the caller writes the pod's /dev/shm once for all members.
    func exportMember(_ record: ContainerRecord, paths: CheckpointPaths, ignoreRootfs: Bool, withDevShm: Bool = true) async throws -> ExportedMember {
        let pod = try record.podID.flatMap { try? store.pod($0) } ?? nil
        let diffTar = paths.rootfsDiffDirectory + "/" + CheckpointMember.rootfsDiff
        var deleted: [String] = []
        if !ignoreRootfs {
            // Reading the container's upper directory and compressing gigabytes both run on a
            // thread of their own, never on the cooperative pool.
            let upper = record.overlay.upper
            deleted = try await BlockingThread.run("build \(CheckpointMember.rootfsDiff)") { _ in
                try step("build \(CheckpointMember.rootfsDiff) from \(upper)") { try RootfsDiff.build(upperDirectory: upper, tarPath: diffTar) }
            }
        }
        let bundleSpec = try step("read \(record.bundle)/config.json") {
            try OCISpec(data: Data(Files.read(record.bundle + "/config.json")), context: "config.json")
        }
        let boundShm = bundleSpec.bindMountSource(destination: "/dev/shm")
        let config = try checkpointConfig(record, pod: pod, criuVersion: await criuVersionNumber(), boundDevShm: boundShm != nil)
        let spec = try step("encode \(CheckpointMember.spec)") { try exportedSpec(bundleSpec) }
        var member = ExportedMember(paths: paths, config: config, spec: spec, diffTar: ignoreRootfs ? nil : diffTar, deleted: deleted)
        if withDevShm, let shm = boundShm, Files.isDirectory(shm) {
            let tar = paths.rootfsDiffDirectory + "/" + CheckpointMember.devShm
            try await snapshotDevShm(shm, to: tar)
            member.devShmTar = tar
        }
        return member
    }

    /// One container's members, each name under `prefix` ("" for a single-container archive).
    func addMember(_ writer: ArchiveWriter, _ member: ExportedMember, prefix: String) throws {
        let at = { (name: String) in prefix.isEmpty ? name : prefix + "/" + name }
        let paths = member.paths
        try writer.addBytes(member.config, as: at(CheckpointMember.config))
        try writer.addBytes(member.spec, as: at(CheckpointMember.spec))
        _ = try writer.addDirectory(at: paths.images, as: at(CheckpointMember.checkpointDirectory))
        if Files.exists(paths.work + "/dump.log") { try writer.addFile(at: paths.work + "/dump.log", as: at(CheckpointMember.dumpLog)) }
        if let diffTar = member.diffTar {
            try writer.addFile(at: diffTar, as: at(CheckpointMember.rootfsDiff))
            try writer.addBytes(Array(try JSONEncoder().encode(member.deleted)), as: at(CheckpointMember.deletedFiles))
        }
        if let devShmTar = member.devShmTar { try writer.addFile(at: devShmTar, as: at(CheckpointMember.devShm)) }
        try writer.addBytes(Array("null".utf8), as: at(CheckpointMember.networkStatus))
        if Files.exists(paths.work + "/stats-dump") { try writer.addFile(at: paths.work + "/stats-dump", as: at(CheckpointMember.statsDump)) }
    }

    /// config.dump with podman's field names for what crpod has, plus a `crpod` section.
    /// crpod's infra is not a container, so the pod id stands where podman names the infra.
    /// `boundDevShm`: /dev/shm is the pod's shm (a bind); `shmSize` then carries its size, which
    /// a podman restore gives the tmpfs it unpacks devshm-checkpoint.tar into.
    func checkpointConfig(_ record: ContainerRecord, pod: PodRecord?, criuVersion: Int?, boundDevShm: Bool) throws -> [UInt8] {
        let privates = NamespaceKind.podShareable.filter { !(pod?.sharedKinds.contains($0) ?? false) }
        let section = CrpodSection(
            podName: pod?.name, podID: pod?.id, podShares: pod?.shares ?? [],
            containerPrivateNamespaces: privates.map(\.rawValue), rootfs: record.rootfs, criuVersion: criuVersion,
            checkpointedAt: timestamp(), hostname: pod?.hostname)
        var config = CheckpointConfig.make(
            id: record.id, name: record.name, createdTime: record.created, createCommand: createCommand(record),
            cgroupParent: pod?.cgroupPath ?? settings.cgroupParent, runtime: runtimeName,
            rootfsImageName: record.image.map { $0.name ?? $0.id }, infraID: pod?.id, mountLabel: pod?.mountLabel, processLabel: pod?.processLabel, crpod: section)
        config.rootfsImageID = record.image?.id
        if boundDevShm { config.shmSize = pod?.shmSize ?? Self.podShmBytes }
        return try step("encode \(CheckpointMember.config)") { Array(try config.data()) }
    }

    /// The OCI runtime's name (`runc`), as podman's `runtime` holds it: podman looks the name up
    /// among its configured runtimes and refuses a path ("requested OCI runtime … is not available").
    var runtimeName: String {
        settings.runtimePath.flatMap { $0.split(separator: "/").last.map(String.init) } ?? "runc"
    }

    /// The command line that would recreate the container, like podman's CreateCommand.
    func createCommand(_ record: ContainerRecord) -> [String] {
        var command = ["crpod", "run", "--name", record.name]
        if let pod = record.podID { command += ["--pod", pod] }
        command += record.image.map { ["--image", $0.name ?? $0.id] } ?? ["--rootfs", record.rootfs]
        for entry in record.env { command += ["--env", entry] }
        if record.workdir != "/" { command += ["--workdir", record.workdir] }
        return command + ["--"] + record.command
    }
}

extension Engine {
    /// config.json as spec.dump: without the `org.criu.config` annotation, which names a file
    /// of this host's container directory (crpod sets its own at every restore), and marked
    /// as an archive in podman's format (`io.container.manager = libpod`). That marks the
    /// format, not the writer: checkpointctl knows only Podman, CRI-O and containerd and picks
    /// by this annotation — without it, it reads a crpod archive as containerd's (no name).
    /// The writer is named by config.dump's `crpod` section and the `io.crpod.*` annotations.
    func exportedSpec(_ bundleSpec: OCISpec) throws -> [UInt8] {
        var spec = bundleSpec
        spec.annotations[CRIUContainerConfig.annotation] = nil
        spec.annotations[ArchiveEngine.managerAnnotation] = ArchiveEngine.podmanFormatManager
        return Array(try spec.data())
    }
}
