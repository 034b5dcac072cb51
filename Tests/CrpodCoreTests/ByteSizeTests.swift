import CrpodCore
import Testing

@Suite("ByteSize: podman's --shm-size sizes")
struct ByteSizeTests {
    static let mebi: UInt64 = 1 << 20
    static let sizes: [(String, UInt64)] = [
        ("64m", 64 * mebi), ("64M", 64 * mebi), ("64mb", 64 * mebi), ("64MiB", 64 * mebi), ("1g", 1024 * mebi),
        ("1536k", 1536 * 1024), ("4096", 4096), ("4096b", 4096), ("2T", 2 * 1024 * 1024 * mebi), ("0", 0),
    ]
    static let formatted: [(UInt64, String)] = [
        (64 * mebi, "64m"), (1536 * 1024, "1536k"), (1024 * mebi, "1g"), (100, "100b"), (4097, "4097b"), (3 * 1024 * 1024 * mebi, "3t"),
    ]

    @Test("sizes parse with binary units, any case, optional b/ib", arguments: sizes)
    func parses(text: String, bytes: UInt64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test("anything else is nil", arguments: ["", "m", "-1m", "1.5g", "64 m", "64mm", "64bb", "64x", "64ib", "99999999999999999999", "18446744073709551615k"])
    func refuses(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test("formatted in the largest unit that divides it, and parsed back", arguments: formatted)
    func formats(bytes: UInt64, text: String) {
        #expect(ByteSize.format(bytes) == text)
        #expect(ByteSize.parse(text) == bytes)
    }
}
