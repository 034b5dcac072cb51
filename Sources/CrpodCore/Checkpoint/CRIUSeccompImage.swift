/// One classic-BPF instruction (`struct sock_filter`: u16 code, u8 jt, u8 jf, u32 k).
public struct BPFInstruction: Sendable, Hashable, Codable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32 = 0) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }

    /// The kernel's little-endian 8-byte layout.
    public var bytes: [UInt8] {
        ProtobufWriter.word(UInt32(code) | UInt32(jt) << 16 | UInt32(jf) << 24) + ProtobufWriter.word(k)
    }
}

/// One `seccomp_filter` of `seccomp.img` (images/seccomp.proto): a BPF program and the index
/// of the filter installed before it (the chain runs from a thread's filter through `prev`).
public struct CRIUSeccompFilter: Sendable, Equatable, Codable {
    public var program: [BPFInstruction]
    public var prev: UInt32?
    public var flags: UInt32?

    public init(program: [BPFInstruction], prev: UInt32? = nil, flags: UInt32? = nil) {
        self.program = program
        self.prev = prev
        self.flags = flags
    }
}

/// `seccomp.img`: common and seccomp magics, one `seccomp_entry` with every filter of the tree.
public struct CRIUSeccomp: Sendable, Equatable, Codable {
    public static let imageName = "seccomp.img"

    public var filters: [CRIUSeccompFilter]

    public init(filters: [CRIUSeccompFilter]) {
        self.filters = filters
    }

    public static func decode(_ bytes: [UInt8], image: String = imageName) throws -> CRIUSeccomp {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.seccomp)
        var filters: [CRIUSeccompFilter] = []
        for entry in try CRIUImage.entries(bytes, from: start, image: image) {
            var reader = entry
            while let (number, value) = try reader.nextField() {
                guard number == 1 else { continue }
                filters.append(try filter(reader.nested(reader.bytesRange(value, field: 1))))
            }
        }
        return CRIUSeccomp(filters: filters)
    }

    private static func filter(_ reader: ProtobufReader) throws -> CRIUSeccompFilter {
        var reader = reader
        var result = CRIUSeccompFilter(program: [])
        var sawProgram = false
        while let (number, value) = try reader.nextField() {
            switch number {
            case 1:
                let range = try reader.bytesRange(value, field: 1)
                guard range.count % 8 == 0 else {
                    throw reader.malformed(at: range.lowerBound, "seccomp filter of \(range.count) bytes is not whole 8-byte instructions")
                }
                result.program = stride(from: range.lowerBound, to: range.upperBound, by: 8).map { instruction(reader.bytes, at: $0) }
                sawProgram = true
            case 2: result.prev = try reader.uint32(value, field: 2)
            case 3: result.flags = try reader.uint32(value, field: 3)
            default: continue
            }
        }
        guard sawProgram else { throw reader.malformed(at: reader.offset, "seccomp_filter without its required filter") }
        return result
    }

    private static func instruction(_ bytes: [UInt8], at offset: Int) -> BPFInstruction {
        let first = CRIUImage.word(bytes, at: offset) ?? 0
        return BPFInstruction(code: UInt16(truncatingIfNeeded: first), jt: UInt8(truncatingIfNeeded: first >> 16),
                              jf: UInt8(truncatingIfNeeded: first >> 24), k: CRIUImage.word(bytes, at: offset + 4) ?? 0)
    }

    /// The programs a thread whose `seccomp_filter` is `index` runs, newest first (CRIU's
    /// restore walk). nil when an index is out of range or the chain loops — CRIU rejects the
    /// former and would never finish the latter.
    public func chain(from index: UInt32) -> [[BPFInstruction]]? {
        var programs: [[BPFInstruction]] = []
        var next: UInt32? = index
        while let current = next {
            guard Int(current) < filters.count, programs.count < filters.count else { return nil }
            programs.append(filters[Int(current)].program)
            next = filters[Int(current)].prev
        }
        return programs
    }
}
