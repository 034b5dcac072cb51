import CrpodArchive
import CrpodCore
import CrpodLinux

extension SpoolService {
    /// A whole-pod archive becomes a new pod, its members keeping their names: named by its
    /// `.target` sidecar (for a pod archive the sidecar names the pod to *create*), else like a
    /// spooled container (`containerName`: the file name plus the hash prefix); the directory's
    /// default pod does not apply. The pod records its origin (the archive's SHA-256): when
    /// recovering, a pod of that name and origin means the restore committed (a pod restore is
    /// all or nothing), while one of the same name made otherwise fails the archive as taken.
    func processPod(_ file: OpenedFile, result: SpoolResult, podName: String, recovering: Bool) async -> SpoolResult {
        var result = result
        let origin = "spool sha256:\(result.sha256)"
        // Pods restored by a spool before origins were recorded carry the derived name alone.
        let derived = podName == Self.containerName(for: result.archive, sha: result.sha256)
        if recovering, let existing = try? engine.store.pod(podName), existing.origin == origin || (existing.origin == nil && derived) {
            result.pod = existing.name
            result.members = ((try? engine.store.containers()) ?? []).filter { $0.podID == existing.id }.map(\.name)
            return result
        }
        do {
            var request = PodRestoreRequest(importPath: file.path)
            request.archiveFile = file
            request.name = podName
            request.origin = origin
            let outcome = try await restorePod(request)
            result.pod = outcome.podName
            result.members = outcome.members.map(\.name)
        } catch {
            result.fail(error)
        }
        return result
    }
}
