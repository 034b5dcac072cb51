#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodEngine
import NIOCore
import NIOHTTP1
import NIOPosix

/// An error the daemon answered with; its text is the engine's own message, its code the
/// daemon's machine code (empty when the daemon could not be reached).
public struct RemoteError: Error, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var code = ""
    public var description: String { message }
}

/// The daemon's API over its Unix socket (`--remote`, CRPOD_HOST). Same answers as `LocalClient`.
public struct RemoteClient: CrpodClient {
    public let socketPath: String

    /// `unix:///run/crpod/crpod.sock` or a plain path.
    public init(host: String) {
        socketPath = host.hasPrefix("unix://") ? String(host.dropFirst(7)) : host
    }

    public func checkHost() async throws -> [CheckFact] { try await get("/v1/host/check") }
    public func createPod(_ request: PodCreateRequest) async throws -> PodSummary { try await send("POST", "/v1/pods", request) }
    public func listPods() async throws -> [PodSummary] { try await get("/v1/pods") }
    public func inspectPod(_ reference: String) async throws -> PodSummary { try await get("/v1/pods/" + Self.escaped(reference)) }
    public func checkPodNetwork(_ reference: String) async throws -> PodSummary {
        try await get("/v1/pods/" + Self.escaped(reference) + "?check=true")
    }
    public func removePod(_ reference: String, force: Bool) async throws -> ObjectRef {
        try await send("DELETE", "/v1/pods/\(Self.escaped(reference))?force=\(force)", Optional<String>.none)
    }
    public func run(_ request: RunRequest) async throws -> ContainerSummary { try await send("POST", "/v1/containers", request) }
    public func listContainers(all: Bool) async throws -> [ContainerSummary] { try await get("/v1/containers?all=\(all)") }
    public func inspectContainer(_ reference: String) async throws -> ContainerSummary { try await get("/v1/containers/" + Self.escaped(reference)) }
    public func logs(_ reference: String) async throws -> [UInt8] {
        try await call("GET", "/v1/containers/\(Self.escaped(reference))/logs", body: nil)
    }
    public func stop(_ reference: String, timeout: Double) async throws -> ObjectRef {
        try await send("POST", "/v1/containers/\(Self.escaped(reference))/stop?timeout=\(timeout)", Optional<String>.none)
    }
    public func removeContainer(_ reference: String, force: Bool) async throws -> ObjectRef {
        try await send("DELETE", "/v1/containers/\(Self.escaped(reference))?force=\(force)", Optional<String>.none)
    }
    public func checkpoint(_ references: [String], _ request: CheckpointRequest) async throws -> [CheckpointOutcome] {
        try await send("POST", "/v1/checkpoint", CheckpointCall(containers: references, request: request))
    }
    public func restore(_ request: RestoreRequest) async throws -> RestoreOutcome { try await send("POST", "/v1/restore", request) }
    public func checkpointPod(_ reference: String, _ request: PodCheckpointRequest) async throws -> PodCheckpointOutcome {
        try await send("POST", "/v1/pods/\(reference)/checkpoint", request)
    }
    public func restorePod(_ request: PodRestoreRequest) async throws -> PodRestoreOutcome { try await send("POST", "/v1/pods/restore", request) }
    public func inspectArchive(path: String) async throws -> ArchiveInspection {
        try await send("POST", "/v1/archives/inspect", ArchivePathCall(path: path))
    }

    func get<T: Decodable>(_ path: String) async throws -> T { try await send("GET", path, Optional<String>.none) }

    func send<T: Decodable, B: Encodable>(_ method: String, _ path: String, _ body: B?) async throws -> T {
        let bytes = try await call(method, path, body: try body.map { Array(try JSONEncoder().encode($0)) })
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch {
            throw RemoteError(status: 0, message: "the daemon's answer to \(method) \(path) is not the expected JSON: \(error)")
        }
    }

    /// One request on a fresh connection; a non-2xx answer throws the daemon's message.
    public func call(_ method: String, _ path: String, body: [UInt8]?) async throws -> [UInt8] {
        let (status, bytes) = try await Self.exchange(socketPath: socketPath, method: method, path: path, body: body)
        guard (200..<300).contains(status) else {
            let body = try? JSONDecoder().decode(APIErrorBody.self, from: Data(bytes))
            throw RemoteError(status: status, message: body?.error ?? String(decoding: bytes, as: UTF8.self), code: body?.code ?? "")
        }
        return bytes
    }

    static func exchange(socketPath: String, method: String, path: String, body: [UInt8]?) async throws -> (Int, [UInt8]) {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: (Int, [UInt8]).self)
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: "crpod")
        head.headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
        if body != nil { head.headers.add(name: "Content-Type", value: "application/json") }
        let request = head
        let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(ResponseCollector(head: request, body: body ?? [], promise: promise))
            }
        }
        do {
            let channel = try await bootstrap.connect(unixDomainSocketPath: socketPath).get()
            defer { channel.close(promise: nil) }
            return try await promise.futureResult.get()
        } catch let error as RemoteError {
            throw error
        } catch {
            promise.fail(error)
            throw RemoteError(status: 0, message: "cannot reach the crpod daemon at \(socketPath): \(error)")
        }
    }

    static func escaped(_ component: String) -> String {
        var out = ""
        for byte in component.utf8 {
            let scalar = Unicode.Scalar(byte)
            if (byte < 0x80 && (scalar.properties.isAlphabetic || ("0"..."9").contains(Character(scalar)))) || "-_.~".utf8.contains(byte) {
                out.append(Character(scalar))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// Sends one request when connected; collects the response.
final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let head: HTTPRequestHead
    let body: [UInt8]
    let promise: EventLoopPromise<(Int, [UInt8])>
    var status = 0
    var received: [UInt8] = []

    init(head: HTTPRequestHead, body: [UInt8], promise: EventLoopPromise<(Int, [UInt8])>) {
        self.head = head
        self.body = body
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(response): status = Int(response.status.code)
        case let .body(buffer): received += buffer.readableBytesView
        case .end: promise.succeed((status, received))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(RemoteError(status: 0, message: "the crpod daemon closed the connection before answering"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
