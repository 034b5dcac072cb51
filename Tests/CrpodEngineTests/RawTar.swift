import Foundation

/// A member of a ustar archive built byte by byte, so engine tests can hand the code that
/// unpacks archives what `ArchiveWriter` refuses to write (`..` names, device nodes).
enum RawTarMember {
    case file(String, String)
    case characterDevice(String, major: Int, minor: Int)
}

/// Writes `members` as a ustar archive at `path` (names up to 100 bytes, no prefix field).
func writeRawTar(_ path: String, _ members: [RawTarMember]) throws {
    var bytes: [UInt8] = []
    for member in members {
        switch member {
        case let .file(name, text):
            let body = Array(text.utf8)
            bytes += ustarHeader(name: name, type: "0", size: body.count)
            bytes += body + [UInt8](repeating: 0, count: (512 - body.count % 512) % 512)
        case let .characterDevice(name, major, minor):
            bytes += ustarHeader(name: name, type: "3", size: 0, device: (major, minor))
        }
    }
    bytes += [UInt8](repeating: 0, count: 1024)  // two zero blocks end the archive
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
    }
}

private func ustarHeader(name: String, type: Character, size: Int, device: (Int, Int) = (0, 0)) -> [UInt8] {
    var block = [UInt8](repeating: 0, count: 512)
    func field(_ offset: Int, _ bytes: [UInt8]) { block.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
    func octal(_ offset: Int, _ width: Int, _ value: Int) {
        let digits = String(value, radix: 8)
        field(offset, Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8))
    }
    field(0, Array(name.utf8.prefix(100)))
    octal(100, 8, 0o644)  // mode
    octal(108, 8, 0)  // uid
    octal(116, 8, 0)  // gid
    octal(124, 12, size)
    octal(136, 12, 1_700_000_000)  // mtime
    field(148, Array(repeating: UInt8(ascii: " "), count: 8))  // the checksum counts as spaces
    field(156, Array(String(type).utf8))
    field(257, Array("ustar".utf8) + [0] + Array("00".utf8))
    octal(329, 8, device.0)
    octal(337, 8, device.1)
    octal(148, 7, block.reduce(0) { $0 + Int($1) })  // six digits,
    block[154] = 0  // NUL, then the space left in 155
    return block
}
