import CrpodEngine

/// `POST /v1/pods/REF/checkpoint` and `POST /v1/pods/restore`: whole-pod checkpoints and
/// restores as jobs (`?async=true` answers 202 at once), confined as the single-container
/// ones are — the export's directory and the archive opened by the daemon inside the allowed
/// roots, the restore policy applied to every member.
extension APIRouter {
    func checkpointPod(_ reference: String, _ body: PodCheckpointRequest, _ request: APIRequest) async throws -> APIResponse {
        var adjusted = body
        let (resolved, directory) = try openConfinedExportDirectory(body.export)
        (adjusted.export, adjusted.exportDirectory) = (resolved, directory)
        let call = adjusted
        let client = self.client
        let id = try await submitCheckpoint(kind: "pod-checkpoint", description: reference) { try await client.checkpointPod(reference, call) }
        return try await answer(job: id, request)
    }

    func restorePod(_ body: PodRestoreRequest, _ request: APIRequest) async throws -> APIResponse {
        var adjusted = body
        let file = try await openConfinedArchive(body.importPath)
        (adjusted.importPath, adjusted.archiveFile) = (file.path, file)
        adjusted.policy = access().policy
        let call = adjusted
        let client = self.client
        let id = try await jobs.submit(kind: "pod-restore", description: call.importPath) { progress in
            await progress.report("restoring pod")
            return try await client.restorePod(call)
        }
        return try await answer(job: id, request)
    }
}
