#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// A `crpod daemon` of a test instance: its socket, notify listener and process. Every wait
/// (READY=1, an answer, the exit) runs on a thread of its own, never on the cooperative pool.
final class DaemonProcess: @unchecked Sendable {
    let crpod: CrpodInstance
    let socket: String
    let listener: NotifyListener
    let process: ChildProcess

    /// Starts the daemon and waits for READY=1. `config` lines are added to the instance's config;
    /// `logLevel` nil leaves the daemon at its own default level.
    init(_ crpod: CrpodInstance, arguments: [String] = [], config: [String] = [], environment: [String: String] = [:],
         socketDirectory: String? = nil, launcher: [String] = [], waitReady: Bool = true, journalStream: Bool = false,
         logLevel: String? = "info") async throws {
        self.crpod = crpod
        let directory = socketDirectory ?? crpod.base
        socket = directory + "/api.sock"
        listener = try NotifyListener(path: crpod.base + "/notify-\(ObjectIDs.random().prefix(6)).sock")
        if !config.isEmpty {
            let current = try Files.readText(crpod.base + "/crpod.conf")
            try Files.writeAtomically(crpod.base + "/crpod.conf", Array((current + config.joined(separator: "\n") + "\n").utf8))
        }
        let daemonArguments = ["daemon", "--root", crpod.root, "--run-root", crpod.runRoot, "--config", crpod.base + "/crpod.conf",
                               "--socket", socket] + (logLevel.map { ["--log-level", $0] } ?? []) + arguments
        let command = launcher.isEmpty ? [crpod.crpod] + daemonArguments : launcher + [crpod.crpod] + daemonArguments
        let log = crpod.base + "/daemon.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        var variables = ["NOTIFY_SOCKET": listener.path].merging(environment) { $1 }
        if journalStream {
            // As systemd does: stderr is "the journal stream" when JOURNAL_STREAM names its dev:ino.
            var info = stat()
            try #require(stat(log, &info) == 0)
            variables["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        }
        process = try ChildProcess(command[0], Array(command.dropFirst()),
                                   environment: ProcessInfo.processInfo.environment.merging(variables) { $1 }, errorOutput: log)
        if waitReady {
            let ready = await listener.receive(seconds: 60) { $0.contains("READY=1") }
            try #require(ready != nil, "daemon did not send READY=1; log: \((try? Files.readText(log)) ?? "")")
        }
    }

    var pid: Int32 { process.pid }

    /// What the daemon wrote to stderr so far, one entry per line.
    func logLines() throws -> [String] {
        try Files.readText(crpod.base + "/daemon.log").split(separator: "\n").map(String.init)
    }

    /// SIGTERM, wait for exit; returns the exit status.
    @discardableResult
    func stop() async -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, SIGTERM)
        await exited()
        return process.terminationStatus
    }

    func killHard() async {
        kill(pid, SIGKILL)
        await exited()
    }

    /// Waits (off the cooperative pool) until the daemon has exited.
    func exited() async { await process.exited() }

    func request(_ method: String, _ path: String, body: [UInt8] = [], headers: [String] = []) async throws -> RawHTTP.Response {
        try await RawHTTP.call(socket: socket, method: method, path: path, body: body, headers: headers)
    }

    func json<T: Decodable>(_ type: T.Type, _ method: String, _ path: String, body: String = "", status: Int = 200,
                            sourceLocation: SourceLocation = #_sourceLocation) async throws -> T {
        let response = try await request(method, path, body: Array(body.utf8))
        #expect(response.status == status, "\(method) \(path): \(response.status) \(response.text)", sourceLocation: sourceLocation)
        return try JSONDecoder().decode(T.self, from: Data(response.body))
    }
}

/// A deliberately raw HTTP/1.1 client over a Unix socket: the tests check the wire, not a library.
enum RawHTTP {
    struct Response {
        var status: Int
        var headers: [String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// A failed connect is thrown, not recorded: callers may retry (a socket that exists but
    /// does not listen yet), and this often runs on a thread of its own, outside any test.
    struct ConnectFailure: Error, CustomStringConvertible { let description: String }

    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ConnectFailure(description: "socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ConnectFailure(description: "connect \(path): \(reason)")
        }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads to EOF (the server closes after each answer) and splits head and body.
    static func receive(_ fd: Int32) -> Response {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let split = data.firstRange(of: separator) else { return Response(status: 0, headers: [], body: data) }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        return Response(status: status, headers: Array(head.dropFirst()), body: Array(data[split.upperBound...]))
    }

    static func request(socket: String, method: String, path: String, body: [UInt8] = [], headers: [String] = []) throws -> Response {
        let fd = try connect(socket)
        defer { close(fd) }
        let head = ([ "\(method) \(path) HTTP/1.1", "Host: crpod", "Content-Length: \(body.count)"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        send(fd, Array(head.utf8) + body)
        return receive(fd)
    }

    /// `request` on a thread of its own: the daemon may take seconds to answer (a restore).
    static func call(socket: String, method: String, path: String, body: [UInt8] = [], headers: [String] = []) async throws -> Response {
        try await BlockingThread.run("\(method) \(path)") { _ in try request(socket: socket, method: method, path: path, body: body, headers: headers) }
    }

    /// `receive` on a thread of its own (the server may hold the connection until a timeout).
    static func receiveOffPool(_ fd: Int32) async throws -> Response {
        try await BlockingThread.run("read an HTTP answer") { _ in receive(fd) }
    }
}

/// API answers the tests decode (the wire contract, not the server's types).
struct JobJSON: Decodable {
    var id: String
    var state: String
    var error: String?
    var result: String?
}

struct ErrorJSON: Decodable {
    var error: String
    var status: Int
    var code: String
}
