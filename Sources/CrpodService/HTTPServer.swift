#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux
import NIOCore
import NIOHTTP1
import NIOPosix

/// One API request, body read in full (JSON) or streamed to a file (uploads).
public struct APIRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var body: [UInt8]
    public var uploadPath: String?
    public var peer: PeerCredentials
}

public struct APIResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// What the server asks of the API behind it.
public protocol APIHandling: Sendable {
    /// Whether this peer may use the API at all (checked before anything is read).
    func authorize(_ peer: PeerCredentials) -> Bool
    /// Whether the request's body is an upload to stream to a file instead of memory.
    func isUpload(method: String, path: String) -> Bool
    func handle(_ request: APIRequest) async -> APIResponse
}

/// Request size limits and timeouts.
public struct ServerLimits: Sendable {
    public var maxRequestBytes = 1 << 20
    public var maxUploadBytes: UInt64 = 16 << 30
    /// A client that sends nothing for this long before its request is complete is cut off.
    public var readTimeoutSeconds: Int64 = 30
    public var uploadDirectory: String
    public init(uploadDirectory: String) { self.uploadDirectory = uploadDirectory }
}

/// Where the server listens: a socket path it binds, or a socket systemd passed in.
public enum ListenTarget: Sendable {
    case path(String, mode: mode_t, group: UInt32?)
    case descriptor(Int32)
}

/// HTTP/1.1 over a Unix socket with SwiftNIO (one event loop thread). Each connection's peer
/// credentials are read with SO_PEERCRED; one request per connection.
public final class APIServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel

    init(group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.group = group
        self.channel = channel
    }

    public static func start(_ target: ListenTarget, api: any APIHandling, limits: ServerLimits) async throws -> APIServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(limits.readTimeoutSeconds)))
                    try channel.pipeline.syncOperations.addHandler(APIChannelHandler(api: api, limits: limits))
                }
            }
        do {
            let channel: any Channel
            switch target {
            case let .path(path, mode, owningGroup):
                try Files.makeDirectories(Files.parent(of: path), mode: 0o755)
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                try sysCall("chmod socket", path: path) { chmod(path, mode) }
                if let owningGroup { try sysCall("chown socket", path: path) { chown(path, 0, owningGroup) } }
            case let .descriptor(fd):
                channel = try await bootstrap.withBoundSocket(fd).get()
            }
            return APIServer(group: group, channel: channel)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Stops accepting; connections in progress finish.
    public func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// Reads one request (bounded), answers it through `APIHandling`, closes the connection.
final class APIChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    enum Phase { case waiting, receiving, processing, done }

    let api: any APIHandling
    let limits: ServerLimits
    var phase = Phase.waiting
    var head: HTTPRequestHead?
    var body: [UInt8] = []
    var upload: UploadSink?
    var received: UInt64 = 0
    var peer: PeerCredentials?

    init(api: any APIHandling, limits: ServerLimits) {
        self.api = api
        self.limits = limits
    }

    func channelActive(context: ChannelHandlerContext) {
        if let provider = context.channel as? any SocketOptionProvider {
            let future: EventLoopFuture<PeerCredentials.Raw> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(PeerCredentials.socketOption))
            future.assumeIsolated().whenSuccess { raw in self.peer = PeerCredentials(raw) }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase == .waiting || phase == .receiving else { return }
        switch unwrapInboundIn(data) {
        case let .head(requestHead):
            guard let peer, api.authorize(peer) else {
                return respond(context, status: 403, code: "peer_refused", message: "peer uid \(peer?.uid ?? 0) pid \(peer?.pid ?? 0) may not use the crpod API (root or the configured group only)")
            }
            head = requestHead
            phase = .receiving
            if api.isUpload(method: requestHead.method.rawValue, path: Self.split(requestHead.uri).path) { openUpload(context) }
        case let .body(buffer):
            received += UInt64(buffer.readableBytes)
            if let upload {
                guard received <= limits.maxUploadBytes else { return respond(context, status: 413, code: "request_too_large", message: "upload larger than \(limits.maxUploadBytes) bytes") }
                queue(buffer, to: upload, context)
            } else {
                guard received <= UInt64(limits.maxRequestBytes) else { return respond(context, status: 413, code: "request_too_large", message: "request body larger than \(limits.maxRequestBytes) bytes") }
                body += buffer.readableBytesView
            }
        case .end:
            guard let upload else { return dispatch(context, uploadPath: nil) }
            self.upload = nil
            upload.finish { path in if let path { self.dispatch(context, uploadPath: path) } }
        }
    }

    /// The chunk goes to the disk off the event loop; reading pauses while the disk lags.
    func queue(_ buffer: ByteBuffer, to upload: UploadSink, _ context: ChannelHandlerContext) {
        upload.write(buffer) { failure in
            if let failure { return self.respond(context, status: 507, code: "upload_failed", message: "\(failure)") }
            if !upload.isBacklogged, context.channel.isActive, self.phase == .receiving {
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            }
        }
        if upload.isBacklogged { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    func openUpload(_ context: ChannelHandlerContext) {
        let path = limits.uploadDirectory + "/upload-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).part"
        try? Files.makeDirectories(limits.uploadDirectory, mode: 0o700)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return respond(context, status: 500, code: "upload_failed", message: "cannot create upload file \(path): \(String(cString: strerror(errno)))") }
        upload = UploadSink(fd: fd, path: path, eventLoop: context.eventLoop)
    }

    func dispatch(_ context: ChannelHandlerContext, uploadPath: String?) {
        guard let head, let peer, phase == .receiving else {
            if let uploadPath { unlink(uploadPath) }
            return
        }
        phase = .processing
        let target = Self.split(head.uri)
        let request = APIRequest(method: head.method.rawValue, path: target.path, query: target.query, body: body, uploadPath: uploadPath, peer: peer)
        let api = self.api
        let promise = context.eventLoop.makePromise(of: APIResponse.self)
        promise.completeWithTask { await api.handle(request) }
        promise.futureResult.assumeIsolated().whenSuccess { response in self.write(context, response) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // Headers incomplete: nothing to answer (HTTP has no response before a request head).
            if phase == .waiting {
                phase = .done
                return context.close(promise: nil)
            }
            if phase == .receiving { return respond(context, status: 408, code: "request_timeout", message: "request not completed within \(limits.readTimeoutSeconds) s") }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        discardUpload()
        context.fireChannelInactive()
    }

    /// An error answer; an upload in progress is removed first, so the answer means it is gone.
    func respond(_ context: ChannelHandlerContext, status: Int, code: String, message: String) {
        let response = APIRouter.error(status: status, code: code, message)
        guard let upload, phase != .done else { return write(context, response) }
        self.upload = nil
        phase = .processing
        upload.discard().assumeIsolated().whenComplete { _ in self.write(context, response) }
    }

    func discardUpload() {
        upload?.discard()
        upload = nil
    }

    func write(_ context: ChannelHandlerContext, _ response: APIResponse) {
        guard phase != .done else { return }
        phase = .done
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        headers.add(name: "Connection", value: "close")
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// `/v1/x?a=1&b` → ("/v1/x", ["a": "1", "b": ""]), percent-decoding the values.
    static func split(_ uri: String) -> (path: String, query: [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[percentDecoded(kv[0])] = kv.count == 2 ? percentDecoded(kv[1]) : ""
            }
        }
        return (percentDecoded(parts[0]), query)
    }

    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
