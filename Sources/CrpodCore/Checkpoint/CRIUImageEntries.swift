/// Magic numbers of the per-namespace and process-tree images (criu/include/magic.h).
/// Each follows `CRIUMagic.common` in the file's first eight bytes.
extension CRIUMagic {
    public static let pstree: UInt32 = 0x5027_3030
    public static let utsns: UInt32 = 0x5447_3203
    public static let ipcVar: UInt32 = 0x5311_5007
    public static let ipcnsShm: UInt32 = 0x4628_3044
    public static let ipcnsMsg: UInt32 = 0x5545_3737
    public static let ipcnsSem: UInt32 = 0x5957_3019
    /// Also `SHMEM_PAGEMAP_MAGIC`: `pagemap-<pid>.img` and `pagemap-shmem-<id>.img`.
    public static let pagemap: UInt32 = 0x5608_4025
}

extension CRIUImage {
    /// Readers over consecutive length-prefixed entries from `start` to the end of `bytes`
    /// (CRIU's `pb_read_one_eof` loop). Each entry consumes at least its 4-byte length word,
    /// so the loop ends; a partial length word or an overlong entry is an error.
    static func entries(_ bytes: [UInt8], from start: Int, image: String) throws -> [ProtobufReader] {
        var readers: [ProtobufReader] = []
        var offset = start
        while offset < bytes.count {
            let reader = try entry(bytes, from: offset, image: image)
            readers.append(reader)
            offset = reader.end
        }
        return readers
    }
}

extension ProtobufReader {
    /// A varint that must fit in 32 bits (proto `uint32`).
    func uint32(_ value: ProtobufValue, field: UInt64) throws -> UInt32 {
        let number = try varint(value, field: field)
        guard let narrow = UInt32(exactly: number) else {
            throw malformed(at: offset, "field \(field) value \(number) does not fit in 32 bits")
        }
        return narrow
    }

    /// A `uint32` that must also be a valid `pid_t` (at most `Int32.max`).
    func pid(_ value: ProtobufValue, field: UInt64) throws -> Int32 {
        let number = try varint(value, field: field)
        guard let pid = Int32(exactly: number) else {
            throw malformed(at: offset, "field \(field) value \(number) is not a valid PID")
        }
        return pid
    }

    /// The values of a repeated PID field: one varint (unpacked, as CRIU writes proto2
    /// repeated fields) or a packed run of varints (which protobuf-c also accepts).
    func pids(_ value: ProtobufValue, field: UInt64) throws -> [Int32] {
        guard case let .bytes(range) = value else { return [try pid(value, field: field)] }
        var packed = nested(range)
        var result: [Int32] = []
        while !packed.isAtEnd {
            let number = try packed.readVarint()
            result.append(try packed.pid(.varint(number), field: field))
        }
        return result
    }
}

extension ProtobufReader {
    /// Like `pids`, but values that do not fit a `pid_t` are left out instead of failing.
    func pidsSkippingInvalid(_ value: ProtobufValue, field: UInt64) throws -> [Int32] {
        guard case let .bytes(range) = value else {
            return Int32(exactly: try varint(value, field: field)).map { [$0] } ?? []
        }
        var packed = nested(range)
        var result: [Int32] = []
        while !packed.isAtEnd {
            if let pid = Int32(exactly: try packed.readVarint()) { result.append(pid) }
        }
        return result
    }
}

/// The few protobuf encodings the image rewriters need.
enum ProtobufWriter {
    static func varint(_ value: UInt64) -> [UInt8] {
        var rest = value
        var out: [UInt8] = []
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
        return out
    }

    /// A length-delimited field (wire type 2): key, length, payload.
    static func lengthDelimited(_ number: UInt64, _ payload: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(payload.count)) + payload
    }

    /// A little-endian 32-bit word, as CRIU writes entry lengths and magics.
    static func word(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
    }
}

/// CRIU image file names: `<prefix><decimal id>.img`, the id printed with `%u` / `%lu`.
enum CRIUImageName {
    /// The last path component, so `checkpoint/pstree.img` and `pstree.img` both match.
    static func base(_ name: String) -> Substring {
        guard let slash = name.lastIndex(of: "/") else { return Substring(name) }
        return name[name.index(after: slash)...]
    }

    /// The id of `<prefix><digits>.img`, or nil when `name` has another shape.
    static func id(of name: String, prefix: String) -> UInt64? {
        let base = base(name)
        guard base.hasPrefix(prefix), base.hasSuffix(".img") else { return nil }
        let digits = base.dropFirst(prefix.count).dropLast(4)
        guard !digits.isEmpty, digits.count <= 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        return UInt64(digits)
    }
}
