/// The established TCP connections a checkpoint holds: CRIU writes `tcp-stream-<inode>.img`
/// for each connection dumped with `--tcp-established`, and `files.img` says which local
/// address each was made from. Podman records nothing else, so the images are the source.
public struct ArchiveTCPConnections: Sendable, Equatable {
    public var count: Int
    /// Local addresses of the connections, deduplicated and sorted; a connection whose socket
    /// entry was not found (or held no address) adds none.
    public var localAddresses: [String]

    public init(count: Int = 0, localAddresses: [String] = []) {
        self.count = count
        self.localAddresses = localAddresses
    }

    /// From the image directory's file names and `files.img`'s TCP sockets (pass [] when it
    /// could not be read: the count still comes from the stream images).
    public init(imageNames: [String], sockets: [CRIUTCPSocket]) {
        let streams = Set(imageNames.filter { $0.hasPrefix("tcp-stream-") && $0.hasSuffix(".img") })
        let addresses = sockets.filter { streams.contains($0.streamImageName) }.compactMap(\.localAddress)
        self.init(count: streams.count, localAddresses: Set(addresses).sorted())
    }
}

/// Rule 10: established TCP connections. CRIU restores them only with `--tcp-established`,
/// and only from the address they were made from (the peer knows no other): a loopback
/// address is in every network namespace; any other must be the target pod's.
///
/// `RestorePlanOptions.tcpEstablished`: true asks for it, false refuses an archive holding
/// connections, nil (the spool, an API request without the field) decides: on exactly when
/// the archive holds connections.
enum RestoreTCPRule {
    static func decide(archive: ArchivePlanFacts, target: PodPlanFacts?, options: RestorePlanOptions) -> (on: Bool, problems: [RestoreProblem]) {
        let connections = archive.tcpConnections
        guard connections.count > 0 else { return (options.tcpEstablished ?? false, []) }
        guard options.tcpEstablished ?? true else { return (false, [.tcpNeedsFlag(connections: connections.count)]) }
        // Outside a pod only loopback exists; a pod whose addresses are unknown (host network) is not checked.
        let known: [String]? = target.map(\.addresses) ?? []
        guard let available = known else { return (true, []) }
        let missing = connections.localAddresses.filter { address in
            !TCPAddress.isLoopback(address) && !available.contains { TCPAddress.same($0, address) }
        }
        guard missing.isEmpty else {
            let place = target.map { "pod \($0.name)" } ?? "a container restored without a pod"
            return (true, [.tcpAddressUnavailable(connections: connections.count, addresses: missing, target: place, targetAddresses: available)])
        }
        return (true, [])
    }
}

/// Address text as CNI and `CRIUFiles.addressText` write it, compared by value.
enum TCPAddress {
    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || expanded(address) == "0:0:0:0:0:0:0:1"
    }

    /// Equal, ignoring a `/prefix` and IPv6 zero compression and case.
    static func same(_ left: String, _ right: String) -> Bool {
        expanded(left) == expanded(right)
    }

    /// IPv4 as it is; IPv6 as eight lowercase groups without leading zeros (`::1` →
    /// `0:0:0:0:0:0:0:1`). Text that is neither comes back lowercased.
    static func expanded(_ address: String) -> String {
        let bare = String(address.split(separator: "/", maxSplits: 1).first ?? "").lowercased()
        guard bare.contains(":") else { return bare }
        let gap = bare.firstRange(of: "::")
        let head = bare[..<(gap?.lowerBound ?? bare.endIndex)].split(separator: ":").map(String.init)
        let tail = gap.map { bare[$0.upperBound...].split(separator: ":").map(String.init) } ?? []
        let zeros = gap == nil ? [] : Array(repeating: "0", count: max(0, 8 - head.count - tail.count))
        return (head + zeros + tail).map { group in String(UInt16(group, radix: 16) ?? 0, radix: 16) }.joined(separator: ":")
    }
}
