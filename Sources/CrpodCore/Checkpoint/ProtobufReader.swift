/// One protobuf field value, by wire type. Length-delimited values are a range of the
/// reader's bytes, so nested messages are read without copying.
enum ProtobufValue: Equatable {
    case varint(UInt64)
    case fixed64(UInt64)
    case fixed32(UInt32)
    case bytes(Range<Int>)
}

/// A minimal, bounds-checked protobuf (proto2 wire format) reader for CRIU's images.
/// Every read either advances or throws, so hostile input ends in an error, never a
/// crash or a loop. Group wire types (3, 4) are rejected; CRIU does not use them.
struct ProtobufReader {
    let bytes: [UInt8]
    let end: Int
    /// The image name, for error messages.
    let image: String
    private(set) var offset: Int

    init(_ bytes: [UInt8], range: Range<Int>? = nil, image: String) {
        self.bytes = bytes
        let range = range ?? bytes.indices
        offset = max(0, min(range.lowerBound, bytes.count))
        end = max(offset, min(range.upperBound, bytes.count))
        self.image = image
    }

    var isAtEnd: Bool { offset >= end }

    /// The next field, or nil at the end of the message.
    mutating func nextField() throws -> (number: UInt64, value: ProtobufValue)? {
        guard !isAtEnd else { return nil }
        let start = offset
        let key = try readVarint()
        let number = key >> 3
        guard number > 0, number <= 0x1FFF_FFFF else {
            throw malformed(at: start, "invalid field number \(number)")
        }
        switch key & 7 {
        case 0: return (number, .varint(try readVarint()))
        case 1: return (number, .fixed64(try readFixed(8)))
        case 2: return (number, .bytes(try readLengthDelimited()))
        case 5: return (number, .fixed32(UInt32(truncatingIfNeeded: try readFixed(4))))
        default: throw malformed(at: start, "unsupported wire type \(key & 7) for field \(number)")
        }
    }

    /// A base-128 varint of at most 10 bytes whose value fits in 64 bits.
    mutating func readVarint() throws -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        for index in 0..<10 {
            guard offset < end else { throw malformed(at: start, "truncated varint") }
            let byte = bytes[offset]
            offset += 1
            if index == 9, byte > 1 { throw malformed(at: start, "varint longer than 64 bits") }
            value |= UInt64(byte & 0x7F) << (7 * UInt64(index))
            if byte & 0x80 == 0 { return value }
        }
        throw malformed(at: start, "varint longer than 10 bytes")
    }

    /// `count` bytes as a little-endian integer.
    mutating func readFixed(_ count: Int) throws -> UInt64 {
        guard end - offset >= count else { throw malformed(at: offset, "truncated \(count)-byte value") }
        var value: UInt64 = 0
        for index in 0..<count {
            value |= UInt64(bytes[offset + index]) << (8 * UInt64(index))
        }
        offset += count
        return value
    }

    mutating func readLengthDelimited() throws -> Range<Int> {
        let start = offset
        let length = try readVarint()
        guard length <= UInt64(end - offset) else {
            throw malformed(at: start, "length \(length) runs past the end (\(end - offset) bytes left)")
        }
        let range = offset..<(offset + Int(length))
        offset = range.upperBound
        return range
    }

    /// A reader over a nested message found by `nextField`.
    func nested(_ range: Range<Int>) -> ProtobufReader {
        ProtobufReader(bytes, range: range, image: image)
    }

    func malformed(at position: Int, _ reason: String) -> CheckpointProblem {
        .malformedImage(image: image, offset: position, reason: reason)
    }

    /// A varint value, or an error naming the field when the wire type is another one.
    func varint(_ value: ProtobufValue, field: UInt64) throws -> UInt64 {
        guard case let .varint(number) = value else {
            throw malformed(at: offset, "field \(field) is not a varint")
        }
        return number
    }

    /// A length-delimited value, or an error naming the field.
    func bytesRange(_ value: ProtobufValue, field: UInt64) throws -> Range<Int> {
        guard case let .bytes(range) = value else {
            throw malformed(at: offset, "field \(field) is not length-delimited")
        }
        return range
    }
}
