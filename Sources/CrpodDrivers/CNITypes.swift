#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore

/// The result of a CNI ADD (spec 1.0 "Success"; 0.4.0 results decode too: their extra
/// `version` fields are ignored). Kept typed for `pod inspect`; the raw JSON is kept beside it
/// (`CNIAttachment.rawResult`) because it is the next plugin's `prevResult` and DEL's.
public struct CNIResult: Codable, Sendable, Equatable {
    public struct Interface: Codable, Sendable, Equatable {
        public var name: String
        public var mac: String?
        /// The netns path for interfaces inside the container; absent for host-side ones.
        public var sandbox: String?
        public init(name: String, mac: String? = nil, sandbox: String? = nil) {
            self.name = name
            self.mac = mac
            self.sandbox = sandbox
        }
    }

    public struct IPConfig: Codable, Sendable, Equatable {
        /// CIDR notation: `10.89.0.5/24`.
        public var address: String
        public var gateway: String?
        /// Index into `interfaces`.
        public var interface: Int?
        public init(address: String, gateway: String? = nil, interface: Int? = nil) {
            self.address = address
            self.gateway = gateway
            self.interface = interface
        }
    }

    public struct Route: Codable, Sendable, Equatable {
        public var dst: String
        public var gw: String?
    }

    public struct DNS: Codable, Sendable, Equatable {
        public var nameservers: [String]?
        public var domain: String?
        public var search: [String]?
        public var options: [String]?
    }

    public var cniVersion: String?
    public var interfaces: [Interface]?
    public var ips: [IPConfig]?
    public var routes: [Route]?
    public var dns: DNS?

    public init(cniVersion: String? = nil, interfaces: [Interface]? = nil, ips: [IPConfig]? = nil,
                routes: [Route]? = nil, dns: DNS? = nil) {
        self.cniVersion = cniVersion
        self.interfaces = interfaces
        self.ips = ips
        self.routes = routes
        self.dns = dns
    }

    /// The interfaces inside the container (those with a sandbox).
    public var containerInterfaces: [Interface] { (interfaces ?? []).filter { $0.sandbox != nil } }

    /// The addresses on container interfaces (or on no named interface), each `interface`
    /// renumbered to index `containerInterfaces`.
    public var containerIPs: [IPConfig] {
        let all = interfaces ?? []
        let inside = all.indices.filter { all[$0].sandbox != nil }
        return (ips ?? []).compactMap { ip in
            guard let index = ip.interface, all.indices.contains(index) else { return ip }
            guard let position = inside.firstIndex(of: index) else { return nil }
            return IPConfig(address: ip.address, gateway: ip.gateway, interface: position)
        }
    }

    /// `containerIPs`' addresses without the prefix length.
    public var containerAddresses: [String] {
        containerIPs.map { String($0.address.split(separator: "/").first ?? Substring($0.address)) }
    }

    static func decode(_ value: JSONValue, plugin: String) throws -> CNIResult {
        do {
            return try JSONDecoder().decode(CNIResult.self, from: try value.encoded(pretty: false))
        } catch {
            throw DriverError.unexpectedOutput(tool: plugin, detail: "CNI result does not have the spec's shape: \(error)")
        }
    }
}

/// A port published through portmap's `portMappings` capability.
public struct CNIPortMapping: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum IPProtocol: String, Codable, Sendable, CaseIterable {
        case tcp, udp
    }

    public var hostPort: Int
    public var containerPort: Int
    public var `protocol`: IPProtocol
    public var hostIP: String?

    public init(hostPort: Int, containerPort: Int, protocol: IPProtocol = .tcp, hostIP: String? = nil) {
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.protocol = `protocol`
        self.hostIP = hostIP
    }

    /// `HOSTPORT:PORT[/tcp|udp]` (podman's `--publish` without a host IP or ranges).
    public static func parse(_ text: String) -> CNIPortMapping? {
        let (ports, proto) = text.split(separator: "/", maxSplits: 1).map(String.init).pairOrSingle
        guard let proto = proto.isEmpty ? IPProtocol.tcp : IPProtocol(rawValue: proto) else { return nil }
        let pair = ports.split(separator: ":", omittingEmptySubsequences: false)
        guard pair.count == 2, let host = Int(pair[0]), let container = Int(pair[1]),
              (1...65535).contains(host), (1...65535).contains(container) else { return nil }
        return CNIPortMapping(hostPort: host, containerPort: container, protocol: proto)
    }

    public var description: String { "\(hostPort):\(containerPort)/\(self.protocol.rawValue)" }

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "hostPort": .int(Int64(hostPort)), "containerPort": .int(Int64(containerPort)), "protocol": .string(self.protocol.rawValue),
        ]
        if let hostIP { object["hostIP"] = .string(hostIP) }
        return .object(object)
    }
}

extension Array where Element == String {
    fileprivate var pairOrSingle: (String, String) { (first ?? "", count > 1 ? self[1] : "") }
}

/// What the runtime passes to plugins through the conventions' capability arguments
/// (`runtimeConfig`): only to plugins whose config declares the capability.
public struct CNIRuntimeConfig: Codable, Sendable, Equatable {
    public var portMappings: [CNIPortMapping]
    /// Static addresses (host-local's `ips` capability).
    public var ips: [String]
    /// A MAC address for the pod's interface (bridge's `mac` capability); a pod restore keeps
    /// the old one so neighbours' ARP caches stay right.
    public var mac: String? = nil

    public init(portMappings: [CNIPortMapping] = [], ips: [String] = []) {
        self.portMappings = portMappings
        self.ips = ips
    }

    /// The capability values present in this config, by capability name.
    var capabilityValues: [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        if !portMappings.isEmpty { values["portMappings"] = .array(portMappings.map(\.json)) }
        if !ips.isEmpty { values["ips"] = JSONValue(strings: ips) }
        if let mac { values["mac"] = .string(mac) }
        return values
    }
}

/// A plugin's error answer (spec "Error": `code`, `msg`, `details`) and what it said on stderr.
public struct CNIPluginFailure: Sendable, Equatable, CustomStringConvertible {
    public var plugin: String
    public var command: CNICommand
    public var status: ToolStatus
    public var code: Int64?
    public var message: String
    public var details: String?
    public var stderrTail: String

    public var description: String {
        var text = "CNI plugin \(plugin) \(command.rawValue) failed (\(status)"
        if let code { text += ", code \(code)" }
        text += "): " + (message.isEmpty ? "(no message)" : message)
        if let details, !details.isEmpty { text += " (\(details))" }
        if !stderrTail.isEmpty { text += "\n  stderr: " + stderrTail }
        return text
    }

    /// Reads the spec's error JSON from stdout; anything else is kept as the message.
    static func from(result: ToolResult, plugin: String, command: CNICommand) -> CNIPluginFailure {
        let object = (try? JSONValue.parse(Data(result.stdout.utf8), context: plugin))?.objectValue
        let message = object?["msg"]?.stringValue ?? tailLines(result.stdout, count: 5)
        return CNIPluginFailure(plugin: plugin, command: command, status: result.status, code: object?["code"]?.int64Value,
                                message: message, details: object?["details"]?.stringValue,
                                stderrTail: tailLines(result.stderr, count: 5))
    }
}

/// The spec's CNI_COMMAND values crpod uses.
public enum CNICommand: String, Sendable, Codable {
    case add = "ADD"
    case delete = "DEL"
    case check = "CHECK"
}
