#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import SystemPackage

/// One container's attachment to one network: everything a plugin call needs, so DEL can be
/// run again later (from the pod record, or from the journal after a crash) exactly as ADD was.
public struct CNIAttachment: Codable, Sendable, Equatable {
    public var network: CNINetworkConfigList
    /// CNI_CONTAINERID: crpod uses the pod id.
    public var containerID: String
    /// CNI_NETNS: `/proc/<infra pid>/ns/net`; empty when the namespace is gone (DEL only).
    public var netnsPath: String
    /// CNI_IFNAME.
    public var interfaceName: String
    public var runtimeConfig: CNIRuntimeConfig

    public init(network: CNINetworkConfigList, containerID: String, netnsPath: String, interfaceName: String = "eth0",
                runtimeConfig: CNIRuntimeConfig = CNIRuntimeConfig()) {
        self.network = network
        self.containerID = containerID
        self.netnsPath = netnsPath
        self.interfaceName = interfaceName
        self.runtimeConfig = runtimeConfig
    }
}

/// Runs CNI plugins as the spec (1.0) says: parameters in CNI_* variables, the plugin's
/// configuration on stdin, the result (or error) as JSON on stdout. A list's plugins run in
/// order for ADD and CHECK, each given the previous result as `prevResult`; DEL runs them in
/// reverse, each given the ADD result. Every call is time-limited.
public struct CNIDriver: Sendable {
    public var pluginDirectories: [String]
    public var timeLimit: Duration
    let runner: ToolRunner

    public init(pluginDirectories: [String] = CNINetworkConfigList.defaultPluginDirectories, timeLimit: Duration = .seconds(60),
                runner: ToolRunner = ToolRunner()) {
        self.pluginDirectories = pluginDirectories
        self.timeLimit = timeLimit
        self.runner = runner
    }

    /// ADD through the whole list; returns the last plugin's result (typed and raw). A
    /// failure part-way leaves the earlier plugins' work: the caller runs `delete`.
    /// `afterEach` gets each plugin's result before the next plugin runs (to journal it: DEL of
    /// plugins like firewall needs the addresses, and a crash may come between two plugins).
    public func add(_ attachment: CNIAttachment, afterEach: (JSONValue) async throws -> Void = { _ in }) async throws
        -> (result: CNIResult, raw: JSONValue)
    {
        var previous: JSONValue? = nil
        for index in attachment.network.plugins.indices {
            let type = attachment.network.pluginType(index)
            let output = try await invoke(.add, index, attachment, prevResult: previous)
            guard let output else {
                throw DriverError.unexpectedOutput(tool: type, detail: "CNI ADD succeeded but printed no result")
            }
            previous = output
            try await afterEach(output)
        }
        guard let previous else { throw DriverError.cniConfigInvalid(path: attachment.network.source, detail: "no plugins") }
        return (try CNIResult.decode(previous, plugin: attachment.network.pluginType(attachment.network.plugins.count - 1)), previous)
    }

    /// DEL through the list in reverse. Every plugin is called even when one fails (so one
    /// broken plugin does not leak what the others hold); the first failure is thrown after.
    public func delete(_ attachment: CNIAttachment, prevResult: JSONValue?) async throws {
        var firstFailure: (any Error)? = nil
        for index in attachment.network.plugins.indices.reversed() {
            do { _ = try await invoke(.delete, index, attachment, prevResult: prevResult) } catch {
                if firstFailure == nil { firstFailure = error }
            }
        }
        if let firstFailure { throw firstFailure }
    }

    /// CHECK through the list (a no-op for lists older than 0.4.0 or with `disableCheck`).
    public func check(_ attachment: CNIAttachment, prevResult: JSONValue) async throws {
        guard attachment.network.supportsCheck else { return }
        for index in attachment.network.plugins.indices {
            _ = try await invoke(.check, index, attachment, prevResult: prevResult)
        }
    }

    /// The spec's variables for one call.
    public func environment(_ command: CNICommand, _ attachment: CNIAttachment) -> [String: String] {
        [
            "CNI_COMMAND": command.rawValue, "CNI_CONTAINERID": attachment.containerID, "CNI_NETNS": attachment.netnsPath,
            "CNI_IFNAME": attachment.interfaceName, "CNI_PATH": pluginDirectories.joined(separator: ":"),
        ]
    }

    /// Runs plugin `index` once; returns its stdout parsed as JSON (nil when it printed nothing).
    func invoke(_ command: CNICommand, _ index: Int, _ attachment: CNIAttachment, prevResult: JSONValue?) async throws -> JSONValue? {
        let type = attachment.network.pluginType(index)
        guard let path = ToolRunner.which(type, searchPath: pluginDirectories.joined(separator: ":")) else {
            throw DriverError.toolNotFound(name: "CNI plugin \(type)", searched: pluginDirectories)
        }
        let input = try attachment.network.pluginInput(index, prevResult: prevResult, runtimeConfig: attachment.runtimeConfig)
            .encoded(pretty: false)
        let result = try await Self.withInput(Array(input), tool: type) { stdin in
            try await runner.run(path, [], environment: environment(command, attachment), stdin: stdin, timeLimit: timeLimit)
        }
        guard result.succeeded else {
            throw DriverError.cniPluginFailed(CNIPluginFailure.from(result: result, plugin: type, command: command))
        }
        let text = result.stdout
        guard text.contains(where: { !$0.isWhitespace }) else { return nil }
        do { return try JSONValue.parse(Data(text.utf8), context: type) } catch {
            throw DriverError.unexpectedOutput(tool: type, detail: "CNI \(command.rawValue) printed no JSON: \(tailLines(text, count: 3))")
        }
    }

    /// The largest configuration handed over: what surely fits in the socket buffer without a reader.
    static let inputLimit = 65536

    /// Hands `bytes` to `body` as the read end of a connection already holding them (and closed
    /// for writing, so the plugin reads to EOF).
    static func withInput<T>(_ bytes: [UInt8], tool: String, _ body: (FileDescriptor) async throws -> T) async throws -> T {
        guard bytes.count <= inputLimit else {
            throw DriverError.unexpectedOutput(tool: tool, detail: "CNI configuration is \(bytes.count) bytes, more than \(inputLimit)")
        }
        // A close-on-exec socket pair, made atomically (Glibc hides pipe2), so a child another
        // task spawns meanwhile cannot hold the write end open and keep the plugin reading.
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw DriverError.fileFailed(operation: "create a socket pair for", path: tool, errno: Errno(rawValue: errno))
        }
        let readEnd = FileDescriptor(rawValue: ends[0])
        defer { try? readEnd.close() }
        do {
            let writeEnd = FileDescriptor(rawValue: ends[1])
            defer { try? writeEnd.close() }
            _ = try writeEnd.writeAll(bytes)
        } catch {
            throw DriverError.fileFailed(operation: "write the configuration of", path: tool, errno: (error as? Errno) ?? .ioError)
        }
        return try await body(readEnd)
    }
}
