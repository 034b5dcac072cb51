#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodLinux

extension Engine {
    /// `crpod restore NAME`: the checkpoint kept in the container's directory, back into the
    /// same pod, with the same image fixes and PID check as an import.
    func restoreInPlace(_ record: ContainerRecord, _ request: RestoreRequest) async throws -> RestoreOutcome {
        var record = record
        let paths = CheckpointPaths(containerDirectory: store.containerDirectory(record.id))
        guard record.state == "checkpointed", Files.exists(paths.images + "/inventory.img") else {
            throw EngineError.invalidInput(what: "restore", detail: "container \(record.name) has no checkpoint to restore (state: \(record.state))")
        }
        let pod = try record.podID.map { try store.pod($0) }
        if let pod {
            try checkPodCanTakeBack(pod, images: paths.images)
        }
        let spec = try step("read \(record.bundle)/config.json") { try OCISpec(data: Data(Files.read(record.bundle + "/config.json")), context: "config.json") }
        // The overlay is not mounted while checkpointed: paths outside /proc and /sys are looked up in the base rootfs.
        try enforceImageRule(request, images: paths.images, spec: spec, rootPath: record.rootfs,
                             lsmProfileGiven: SELinux.isEnabled && pod?.processLabel != nil)
        let streams = ArchiveTCPConnections(imageNames: (try? Files.listDirectory(paths.images)) ?? [], sockets: []).count
        if request.tcpEstablished == false, streams > 0 {
            throw EngineError.restoreRefused(problems: [RestoreProblem.tcpNeedsFlag(connections: streams).message])
        }
        return try await withRollback("restore \(record.name)") { rollback in
            let names = try step("list \(paths.images)") { try Files.listDirectory(paths.images) }
            // Back into its own pod: the SysV segments its tasks had attached are still in the
            // pod's IPC namespace (CRIU would not map them: crpod attaches them again).
            let joinsPodIPC = pod?.shares.contains(NamespaceKind.ipc.rawValue) ?? false
            let detached = try applyImageEdits(RestoreImageEdit.edits(imageNames: names, dropIPCObjects: joinsPodIPC,
                                                                      hostname: pod?.shares.contains(NamespaceKind.uts.rawValue) == true ? pod?.hostname : nil,
                                                                      detachSysVShm: joinsPodIPC),
                                               images: paths.images, inPlace: true)
            let tcp = request.tcpEstablished ?? (streams > 0)
            var engine = RestoreEngineOptions(tcpEstablished: tcp, fileLocks: request.fileLocks,
                                              timeLimit: settings.runtimeTimeLimit)
            engine.sysvReattachments = detached
            if SELinux.isEnabled {
                engine.lsmProfile = pod?.processLabel.map { "selinux:" + $0 }
                engine.lsmMountContext = pod?.mountLabel
            }
            try journalNetworkLockRemoval(podID: record.podID, rollback: rollback)
            try rollback.add(.deleteRuntime(id: record.id, cgroup: record.cgroupPath))
            let strays = try prepareRestorePlacement(record, images: paths.images, sourceCgroup: nil)
            let containerEngine = try await containerEngine()
            record.engine = containerEngine.kind
            let outcome = try await withOutputPipe(logPath: record.logPath) { [record] output in
                try await engineRestore(record, with: containerEngine, images: paths.images, engine: engine, stdio: output,
                                        keepWork: request.keep, rollback: rollback)
            }
            try verifyRestoredPlacement(record, strays: strays)
            record.state = "running"
            try store.save(record)
            if !request.keep { rollback.onSuccess { try? Files.removeTree(paths.images) } }
            return RestoreOutcome(id: record.id, name: record.name, podID: pod?.id, podName: pod?.name,
                                  runtimeRestoreDuration: outcome.duration, criuStatistics: outcome.statistics, notes: [])
        }
    }

    /// The pod's infra must run and, with a shared PID namespace, the checkpoint's PIDs be free.
    private func checkPodCanTakeBack(_ pod: PodRecord, images: String) throws {
        let facts = try podPlanFacts(pod)
        guard facts.infraRunning else {
            throw EngineError.infraNotRunning(pod: pod.name, pid: pod.infra?.pid ?? 0)
        }
        guard pod.shares.contains(NamespaceKind.pid.rawValue) else { return }
        let pstree = try step("read pstree.img") { try CRIUPstree.decode(Files.read(images + "/pstree.img")) }
        let taken = pstree.allPIDs.filter { facts.pidsInUse.contains($0) }.sorted()
        if !taken.isEmpty {
            throw EngineError.restoreRefused(problems: taken.map { "pid \($0) of the checkpoint is already in use in pod \(pod.name)'s PID namespace" })
        }
    }
}
