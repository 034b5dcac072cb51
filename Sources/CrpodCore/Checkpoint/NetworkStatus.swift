#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `network.status` in podman's shape (libpod's `types.StatusBlock` per network):
/// `{"<network>": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.88.0.26/16",
/// "gateway": "10.88.0.1"}], "mac_address": "6a:c2:…"}}}}`; `null` for no network (what
/// podman writes for a pod member, and crpod for every single-container archive). A whole-pod
/// archive carries its pod's at the top level. Read from archives: hostile until `problems()`
/// is empty. Unknown keys are ignored.
public struct NetworkStatus: Codable, Sendable, Equatable {
    public struct Subnet: Codable, Sendable, Equatable {
        public var ipnet: String
        public var gateway: String?
        public init(ipnet: String, gateway: String? = nil) {
            self.ipnet = ipnet
            self.gateway = gateway
        }
    }

    public struct Interface: Codable, Sendable, Equatable {
        public var subnets: [Subnet]?
        public var macAddress: String?
        enum CodingKeys: String, CodingKey { case subnets, macAddress = "mac_address" }
        public init(subnets: [Subnet], macAddress: String?) {
            self.subnets = subnets
            self.macAddress = macAddress
        }
    }

    public struct Network: Codable, Sendable, Equatable {
        public var interfaces: [String: Interface]
        public init(interfaces: [String: Interface]) { self.interfaces = interfaces }
    }

    /// By network name; empty for `null`.
    public var networks: [String: Network]

    public init(networks: [String: Network] = [:]) { self.networks = networks }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        networks = container.decodeNil() ? [:] : try container.decode([String: Network].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if networks.isEmpty { try container.encodeNil() } else { try container.encode(networks) }
    }

    public init(data: Data) throws {
        do {
            self = try JSONDecoder().decode(NetworkStatus.self, from: data)
        } catch {
            throw CoreError.invalidJSON(context: CheckpointMember.networkStatus, detail: describeCodingError(error))
        }
    }

    /// Pretty, key-sorted JSON (`null` when there is no network).
    public func data() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do { return try encoder.encode(self) } catch {
            throw CoreError.jsonEncodingFailed(detail: describeCodingError(error))
        }
    }

    static let limit = 16

    /// What is wrong with it, each as a sentence; empty when it is sound.
    public func problems() -> [String] {
        var problems: [String] = []
        if networks.count > Self.limit { problems.append("more than \(Self.limit) networks") }
        for (name, network) in networks.sorted(by: { $0.key < $1.key }) {
            if !Self.isNetworkName(name) { problems.append("invalid network name \(quoted(name))") }
            if network.interfaces.count > Self.limit { problems.append("network \(quoted(name)): more than \(Self.limit) interfaces") }
            for (interface, status) in network.interfaces.sorted(by: { $0.key < $1.key }) {
                let at = "network \(quoted(name)) interface \(quoted(interface))"
                if !Self.isInterfaceName(interface) { problems.append("\(at): invalid interface name") }
                problems += Self.problems(of: status).map { "\(at): \($0)" }
            }
        }
        return problems
    }

    private static func problems(of status: Interface) -> [String] {
        var problems: [String] = []
        if let mac = status.macAddress, !isMAC(mac) { problems.append("invalid mac_address \(quoted(mac))") }
        let subnets = status.subnets ?? []
        if subnets.count > limit { problems.append("more than \(limit) subnets") }
        for subnet in subnets {
            if !isCIDR(subnet.ipnet) { problems.append("invalid ipnet \(quoted(subnet.ipnet))") }
            if let gateway = subnet.gateway, !isAddress(gateway) { problems.append("invalid gateway \(quoted(gateway))") }
        }
        return problems
    }

    /// podman's rule: a letter or digit, then letters, digits, `_`, `.`, `-`; at most 128.
    static func isNetworkName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 128, isAlphanumeric(first) else { return false }
        return name.unicodeScalars.allSatisfy { isAlphanumeric($0) || "_.-".unicodeScalars.contains($0) }
    }

    /// A Linux interface name: 1–15 bytes, no `/`, `:` or whitespace, not `.` or `..`.
    static func isInterfaceName(_ name: String) -> Bool {
        guard (1...15).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f && $0 != "/" && $0 != ":" }
    }

    static func isMAC(_ text: String) -> Bool {
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        return groups.count == 6 && groups.allSatisfy { $0.count == 2 && $0.allSatisfy(isHex) }
    }

    static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), isAddress(String(parts[0])) else { return false }
        return prefix >= 0 && prefix <= (parts[0].contains(":") ? 128 : 32)
    }

    /// Dotted-quad IPv4, or IPv6 in the shapes inet_ntop writes (hex groups, one `::` at most).
    static func isAddress(_ text: String) -> Bool {
        if !text.contains(":") {
            let octets = text.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets.allSatisfy { (1...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } && Int($0).map { $0 <= 255 } == true }
        }
        guard text.count <= 39, text.components(separatedBy: "::").count <= 2 else { return false }
        let groups = text.split(separator: ":", omittingEmptySubsequences: true)
        let full = !text.contains("::")
        return (full ? groups.count == 8 : groups.count < 8) && groups.allSatisfy { (1...4).contains($0.count) && $0.allSatisfy(isHex) }
    }

    private static func isHex(_ character: Character) -> Bool { character.isASCII && character.isHexDigit }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}
