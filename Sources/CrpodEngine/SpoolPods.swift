import CrpodArchive
import CrpodCore
import CrpodLinux

extension SpoolService {
    /// A whole-pod archive becomes a new pod named like a spooled container (`containerName`:
    /// the file name plus the hash prefix), its members keeping their names; a `.target`
    /// sidecar or the directory's default pod does not apply. When recovering, a pod of that
    /// name means the restore committed (a pod restore is all or nothing).
    func processPod(_ file: OpenedFile, result: SpoolResult, podName: String, recovering: Bool) async -> SpoolResult {
        var result = result
        if recovering, let existing = try? engine.store.pod(podName) {
            result.pod = existing.name
            result.members = ((try? engine.store.containers()) ?? []).filter { $0.podID == existing.id }.map(\.name)
            return result
        }
        do {
            var request = PodRestoreRequest(importPath: file.path)
            request.archiveFile = file
            request.name = podName
            let outcome = try await restorePod(request)
            result.pod = outcome.podName
            result.members = outcome.members.map(\.name)
        } catch {
            result.fail(error)
        }
        return result
    }
}
