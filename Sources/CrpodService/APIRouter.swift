#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodEngine
import CrpodLinux

/// Who may call the API and what requests may name.
public struct APIAccess: Sendable {
    /// Non-root peers in this group are let in; everyone else but root is refused.
    public var allowedGroup: UInt32?
    /// Host paths in requests (archives, exports, rootfs) must lie under one of these.
    public var allowedDirectories: [String]
    /// Applied to every restore the daemon does.
    public var policy: RestorePolicy
    /// Registries (`host[:port]`) the daemon may pull from; empty: any.
    public var allowedRegistries: [String]

    public init(allowedGroup: UInt32? = nil, allowedDirectories: [String], policy: RestorePolicy, allowedRegistries: [String] = []) {
        self.allowedGroup = allowedGroup
        self.allowedDirectories = allowedDirectories
        self.policy = policy
        self.allowedRegistries = allowedRegistries
    }
}

/// The daemon's HTTP API: `/v1/...` JSON endpoints and Prometheus `/metrics`.
public struct APIRouter: APIHandling {
    let client: LocalClient
    let jobs: JobRegistry
    let metrics: Metrics
    let access: @Sendable () -> APIAccess
    let spoolDepth: @Sendable () -> Int

    public init(client: LocalClient, jobs: JobRegistry, metrics: Metrics, access: @escaping @Sendable () -> APIAccess, spoolDepth: @escaping @Sendable () -> Int) {
        self.client = client
        self.jobs = jobs
        self.metrics = metrics
        self.access = access
        self.spoolDepth = spoolDepth
    }

    public func authorize(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 { return true }
        if let group = access().allowedGroup, peer.groups().contains(group) { return true }
        metrics.peerRefused()
        return false
    }

    public func isUpload(method: String, path: String) -> Bool { method == "PUT" && path == "/v1/restore/upload" }

    public func handle(_ request: APIRequest) async -> APIResponse {
        let response: APIResponse
        do { response = try await route(request) } catch {
            response = Self.failure(error)
        }
        if let upload = request.uploadPath { unlink(upload) }
        metrics.request(status: response.status)
        return response
    }

    func route(_ request: APIRequest) async throws -> APIResponse {
        let route = RouteMatcher(request)
        if route.match("GET", "/v1/health") != nil {
            return try Self.json(Health(status: "ok", version: crpodVersion, pid: getpid(), jobsInFlight: await jobs.inFlight, spoolDepth: spoolDepth()))
        }
        if route.match("GET", "/metrics") != nil {
            let text = metrics.render(jobsInFlight: await jobs.inFlight, spoolDepth: spoolDepth())
            return APIResponse(status: 200, contentType: "text/plain; version=0.0.4", body: Array(text.utf8))
        }
        if route.match("GET", "/v1/host/check") != nil { return try Self.json(try await client.checkHost()) }
        if route.match("GET", "/v1/jobs") != nil { return try Self.json(await jobs.list()) }
        if let id = route.match("GET", "/v1/jobs/:id")?.first { return try Self.json(try await jobs.job(id)) }
        if route.match("POST", "/v1/archives/inspect") != nil {
            let call = try Self.decode(ArchivePathCall.self, request)
            return try Self.json(try await client.inspectArchive(file: try await openConfinedArchive(call.path)))
        }
        if route.match("POST", "/v1/restore") != nil {
            return try await loggingRefusal(of: request) {
                var body = try Self.decode(RestoreRequest.self, request)
                var imageCall = try Self.decode(ImageRestoreCall.self, request)
                if imageCall.image != nil {
                    guard body.importPath == nil, body.container == nil else { throw EngineError.invalidInput(what: "image", detail: "image replaces importPath and container") }
                    imageCall.auth = registryAuth
                    return try await restore(body, request, image: imageCall)
                }
                if let path = body.importPath {
                    let file = try await openConfinedArchive(path)
                    (body.importPath, body.archiveFile) = (file.path, file)
                }
                return try await restore(body, request)
            }
        }
        if route.match("PUT", "/v1/restore/upload") != nil {
            return try await loggingRefusal(of: request) { try await restore(try uploadRequest(request), request) }
        }
        if route.match("POST", "/v1/checkpoint") != nil { return try await checkpoint(try Self.decode(CheckpointCall.self, request), request) }
        return try await routeObjects(request, route)
    }

    func routeObjects(_ request: APIRequest, _ route: RouteMatcher) async throws -> APIResponse {
        let force = request.query["force"] == "true" || request.query["force"] == "1"
        if let answer = try await routeImages(request, route) { return answer }
        if route.match("GET", "/v1/pods") != nil { return try Self.json(try await client.listPods()) }
        if route.match("POST", "/v1/pods/restore") != nil { return try await restorePod(try Self.decode(PodRestoreRequest.self, request), request) }
        if let ref = route.match("POST", "/v1/pods/:ref/checkpoint")?.first {
            return try await checkpointPod(ref, try Self.decode(PodCheckpointRequest.self, request), request)
        }
        if route.match("POST", "/v1/pods") != nil {
            return try Self.json(try await client.createPod(try Self.decode(PodCreateRequest.self, request)), status: 201)
        }
        if let ref = route.match("GET", "/v1/pods/:ref")?.first {
            let check = request.query["check"] == "true" || request.query["check"] == "1"
            return try Self.json(try await check ? client.checkPodNetwork(ref) : client.inspectPod(ref))
        }
        if let ref = route.match("DELETE", "/v1/pods/:ref")?.first { return try Self.json(try await client.removePod(ref, force: force)) }
        if route.match("GET", "/v1/containers") != nil {
            return try Self.json(try await client.listContainers(all: request.query["all"] == "true" || request.query["all"] == "1"))
        }
        if route.match("POST", "/v1/containers") != nil {
            var run = try Self.decode(RunRequest.self, request)
            run.policy = access().policy
            return try Self.json(try await client.run(run), status: 201)
        }
        if let ref = route.match("GET", "/v1/containers/:ref")?.first { return try Self.json(try await client.inspectContainer(ref)) }
        if let ref = route.match("GET", "/v1/containers/:ref/logs")?.first {
            return APIResponse(status: 200, contentType: "application/octet-stream", body: try await client.logs(ref))
        }
        if let ref = route.match("POST", "/v1/containers/:ref/stop")?.first {
            return try Self.json(try await client.stop(ref, timeout: Double(request.query["timeout"] ?? "") ?? 10))
        }
        if let ref = route.match("DELETE", "/v1/containers/:ref")?.first {
            return try Self.json(try await client.removeContainer(ref, force: force))
        }
        let (status, code) = route.pathKnown ? (405, "method_not_allowed") : (404, "no_endpoint")
        return Self.error(status: status, code: code, "no endpoint \(request.method) \(request.path)")
    }

    /// Runs the restore (of `image` when given) as a job; answers when it is done, or at once with `?async=true`.
    func restore(_ body: RestoreRequest, _ request: APIRequest, image: ImageRestoreCall? = nil) async throws -> APIResponse {
        var adjusted = body
        adjusted.policy = access().policy
        adjusted.rootfs = try adjusted.rootfs.map(confinedRootfs)
        let client = self.client
        let (facts, source) = Self.restoreLogFacts(body, request)
        let archive = image?.image.map { "image \($0)" } ?? facts
        let id = try await jobs.submitRestore(adjusted, kind: "restore", metrics: metrics, finished: { result, duration in
            Self.restoreLogLine(result, archive: archive, source: source, milliseconds: Int(duration / .milliseconds(1)))
                .write(to: client.engine.logger, metadata: ["archive": "\(archive)"])
        }) { restore in
            guard var call = image else { return try await client.restore(restore) }
            call.request = restore
            return try await client.restoreImage(call)
        }
        return try await answer(job: id, request)
    }

    func checkpoint(_ call: CheckpointCall, _ request: APIRequest) async throws -> APIResponse {
        var adjusted = call.request
        if let export = adjusted.export {
            let (resolved, directory) = try openConfinedExportDirectory(export)
            (adjusted.export, adjusted.exportDirectory) = (resolved, directory)
        }
        let body = adjusted
        let client = self.client
        let id = try await submitCheckpoint(kind: "checkpoint", description: call.containers.joined(separator: ",")) {
            try await client.checkpoint(call.containers, body)
        }
        return try await answer(job: id, request)
    }

    /// A checkpoint job, counted in the checkpoint metrics by its outcome.
    func submitCheckpoint<T: Encodable & Sendable>(kind: String, description: String,
                                                   _ work: @escaping @Sendable () async throws -> T) async throws -> String {
        let metrics = self.metrics
        return try await jobs.submit(kind: kind, description: description) { progress in
            await progress.report("checkpointing")
            do {
                let outcome = try await work()
                metrics.checkpointFinished(result: "success")
                return outcome
            } catch {
                metrics.checkpointFinished(result: "failure")
                throw error
            }
        }
    }

    /// 202 with the job for `?async=true`; else waits: the result (200) or the error.
    func answer(job id: String, _ request: APIRequest) async throws -> APIResponse {
        if request.query["async"] == "true" { return try Self.json(try await jobs.job(id), status: 202) }
        let job = try await jobs.wait(id)
        guard job.state == .succeeded, let result = job.result else {
            return Self.failure(await jobs.failure(id) ?? JobError.failedWithoutError(id))
        }
        return APIResponse(status: 200, body: Array(result.utf8))
    }

    /// `PUT /v1/restore/upload?pod=P&name=N&rootfs=DIR&tcpEstablished=true|false`: the streamed
    /// archive is restored (`tcpEstablished` left out: decided from the archive, as the spool does).
    func uploadRequest(_ request: APIRequest) throws -> RestoreRequest {
        guard let upload = request.uploadPath else { throw EngineError.invalidInput(what: "upload", detail: "no archive was sent") }
        var restore = RestoreRequest(importPath: upload)
        restore.archiveFile = try OpenedFile.open(path: upload, maxBytes: ArchiveFile.maxBytes)
        restore.pod = request.query["pod"]
        restore.name = request.query["name"]
        restore.rootfs = request.query["rootfs"]
        if let tcp = request.query["tcpEstablished"] {
            guard let value = Bool(tcp) else { throw EngineError.invalidInput(what: "tcpEstablished", detail: "\(tcp) is not true or false") }
            restore.tcpEstablished = value
        }
        return restore
    }
}

/// Matches a request against `METHOD /path/:capture` patterns.
struct RouteMatcher {
    let method: String
    let parts: [String]
    /// Whether some endpoint has this path under another method (405 rather than 404).
    var pathKnown: Bool {
        let patterns = ["/v1/pods", "/v1/pods/:x", "/v1/pods/:x/checkpoint", "/v1/containers", "/v1/containers/:x", "/v1/containers/:x/logs", "/v1/containers/:x/stop",
                        "/v1/images", "/v1/images/:x", "/v1/containers/:x/checkpoint", "/v1/jobs", "/v1/jobs/:x", "/v1/restore", "/v1/restore/upload", "/v1/checkpoint", "/v1/archives/inspect", "/v1/health", "/metrics"]
        return patterns.contains { Self.captures($0, parts) != nil }
    }

    init(_ request: APIRequest) {
        method = request.method
        parts = request.path.split(separator: "/").map(String.init)
    }

    func match(_ method: String, _ pattern: String) -> [String]? {
        guard method == self.method else { return nil }
        return Self.captures(pattern, parts)
    }

    static func captures(_ pattern: String, _ parts: [String]) -> [String]? {
        let expected = pattern.split(separator: "/").map(String.init)
        guard expected.count == parts.count else { return nil }
        var captured: [String] = []
        for (want, got) in zip(expected, parts) {
            if want.hasPrefix(":") { captured.append(got) } else if want != got { return nil }
        }
        return captured
    }
}
