/// A TCP socket CRIU recorded in `files.img` (`file_entry.isk`, an `inet_sk_entry` of
/// images/sk-inet.proto: `ino = 2; family = 3; proto = 5; state = 6; src_port = 7;
/// dst_port = 8; repeated uint32 src_addr = 11; repeated uint32 dst_addr = 12`). Addresses are
/// the kernel's network-order words as CRIU copied them, one word for IPv4, four for IPv6.
public struct CRIUTCPSocket: Sendable, Equatable {
    public var inode: UInt32
    /// The kernel's TCP state: 1 established, 10 listening, 7 closed, ...
    public var state: UInt32
    /// Dotted IPv4 or colon-separated IPv6 text; nil when the entry holds no usable address.
    public var localAddress: String?
    public var localPort: UInt32

    public init(inode: UInt32, state: UInt32, localAddress: String?, localPort: UInt32) {
        self.inode = inode
        self.state = state
        self.localAddress = localAddress
        self.localPort = localPort
    }

    /// `tcp-stream-<inode in hex>.img`: CRIU writes one per connection dumped with
    /// `--tcp-established` (criu/sk-tcp.c, `open_image(..., CR_FD_TCP_STREAM, ..., ino)`).
    public var streamImageName: String { "tcp-stream-" + String(inode, radix: 16) + ".img" }
}

extension CRIUFiles {
    /// `fd_types.INETSK`.
    static let inetSocketType: UInt64 = 4
    /// IPPROTO_TCP.
    static let tcpProtocol: UInt64 = 6

    /// Every TCP socket of the dump (listeners included), in image order. Malformed framing or
    /// protobuf throws `CheckpointProblem`; other entries are skipped undecoded.
    public static func tcpSockets(_ filesImage: [UInt8], image: String = imageName) throws -> [CRIUTCPSocket] {
        let start = try CRIUImage.payloadStart(filesImage, image: image, head: CRIUMagic.common, magic: CRIUMagic.files)
        var sockets: [CRIUTCPSocket] = []
        for entry in try CRIUImage.entries(filesImage, from: start, image: image) {
            guard let isk = try nestedEntry(entry, type: inetSocketType, field: 4) else { continue }
            if let socket = try tcpSocket(isk) { sockets.append(socket) }
        }
        return sockets
    }

    /// The message in `field` of a `file_entry` whose type is `type`, or nil.
    static func nestedEntry(_ entry: ProtobufReader, type wanted: UInt64, field wantedField: UInt64) throws -> ProtobufReader? {
        var reader = entry
        var type: UInt64?
        var nested: Range<Int>?
        while let (number, value) = try reader.nextField() {
            switch number {
            case 1: type = try reader.varint(value, field: number)
            case wantedField: nested = try reader.bytesRange(value, field: number)
            default: continue
            }
        }
        guard type == wanted, let nested else { return nil }
        return reader.nested(nested)
    }

    private static func tcpSocket(_ isk: ProtobufReader) throws -> CRIUTCPSocket? {
        var reader = isk
        var (inode, family, proto, state, port): (UInt32, UInt32, UInt64, UInt32, UInt32) = (0, 0, 0, 0, 0)
        var words: [UInt32] = []
        while let (number, value) = try reader.nextField() {
            switch number {
            case 2: inode = try reader.uint32(value, field: number)
            case 3: family = try reader.uint32(value, field: number)
            case 5: proto = try reader.varint(value, field: number)
            case 6: state = try reader.uint32(value, field: number)
            case 7: port = try reader.uint32(value, field: number)
            case 11: words += try reader.uint32s(value, field: number)
            default: continue
            }
        }
        guard proto == tcpProtocol else { return nil }
        return CRIUTCPSocket(inode: inode, state: state, localAddress: addressText(family: family, words: words), localPort: port)
    }

    /// AF_INET (2) with one word, AF_INET6 (10) with four; the words hold network-order bytes.
    /// IPv6 comes out uncompressed (`0:0:0:0:0:0:0:1`); an IPv4-mapped one as dotted IPv4.
    static func addressText(family: UInt32, words: [UInt32]) -> String? {
        let bytes = words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
        switch (family, bytes.count) {
        case (2, 4): return bytes.map(String.init).joined(separator: ".")
        case (10, 16) where bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF:
            return bytes[12...].map(String.init).joined(separator: ".")
        case (10, 16):
            let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            return groups.joined(separator: ":")
        default: return nil
        }
    }
}
