import CrpodEngine
import CrpodRegistry

/// The image store over the API: `GET /v1/images`, `GET|DELETE /v1/images/REF` (a reference
/// holds slashes: everything after `/v1/images/` is the reference), `POST /v1/images/import`
/// (a tar under an API directory, opened confined like a restore's archive), `POST
/// /v1/images/pull` and `POST /v1/containers/NAME/checkpoint` (jobs: `?async=true` answers
/// 202 at once). Errors keep their types: `image_not_found` 404, `image_in_use` 409,
/// `registry_failed` 400.
extension APIRouter {
    func routeImages(_ request: APIRequest, _ route: RouteMatcher) async throws -> APIResponse? {
        if let container = route.match("POST", "/v1/containers/:ref/checkpoint")?.first {
            return try await checkpointContainer(container, try Self.decode(ImageCheckpointCall.self, request), request)
        }
        guard route.parts.count >= 2, route.parts[0] == "v1", route.parts[1] == "images" else { return nil }
        if route.match("GET", "/v1/images") != nil { return try Self.json(try await client.listImages()) }
        if route.match("POST", "/v1/images/import") != nil { return try await importImage(try Self.decode(ImageImportCall.self, request), request) }
        if route.match("POST", "/v1/images/pull") != nil { return try await pullImage(try Self.decode(ImagePullCall.self, request), request) }
        let reference = route.parts.dropFirst(2).joined(separator: "/")
        if !reference.isEmpty && route.method == "GET" { return try Self.json(try await client.inspectImage(reference)) }
        if !reference.isEmpty && route.method == "DELETE" { return try Self.json(try await client.removeImage(reference)) }
        return Self.error(status: 405, code: "method_not_allowed", "no endpoint \(request.method) \(request.path)")
    }

    func importImage(_ call: ImageImportCall, _ request: APIRequest) async throws -> APIResponse {
        let file = try await openConfinedArchive(call.path)
        let client = self.client
        let id = try await jobs.submit(kind: "image-import", description: call.path) { progress in
            await progress.report("importing")
            return try await client.importImage(ImageImportCall(path: file.path, name: call.name), file: file)
        }
        return try await answer(job: id, request)
    }

    func pullImage(_ call: ImagePullCall, _ request: APIRequest) async throws -> APIResponse {
        let client = self.client
        let auth = registryAuth
        let id = try await jobs.submit(kind: "image-pull", description: call.reference) { progress in
            await progress.report("pulling")
            return try await client.pullImage(ImagePullCall(reference: call.reference, tlsVerify: call.tlsVerify, auth: auth))
        }
        return try await answer(job: id, request)
    }

    /// Without `createImage` this is `POST /v1/checkpoint` for one container.
    func checkpointContainer(_ container: String, _ call: ImageCheckpointCall, _ request: APIRequest) async throws -> APIResponse {
        guard let reference = call.createImage else { return try await checkpoint(CheckpointCall(containers: [container], request: call.request), request) }
        guard call.request.export == nil, call.request.compression == nil else {
            throw EngineError.invalidInput(what: "createImage", detail: "a checkpoint image takes neither export nor compression")
        }
        let client = self.client
        let id = try await submitCheckpoint(kind: "checkpoint-image", description: "\(container) → \(reference)") {
            try await client.checkpointToImage(container, call)
        }
        return try await answer(job: id, request)
    }
}

extension APIRouter {
    /// What the daemon's pulls (API pulls, restores by an image not in the store) may use: its
    /// own authfile (settings) and only the registries its `allow_registry` lines list (none: any).
    /// The engine checks the host where it connects, so a pull decided later is covered too.
    var registryAuth: RegistryAuth {
        let allowed = access().allowedRegistries
        return RegistryAuth(allowedHosts: allowed.isEmpty ? nil : allowed)
    }
}
