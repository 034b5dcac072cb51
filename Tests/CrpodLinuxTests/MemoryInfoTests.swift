import CrpodLinux
import Testing

@Suite("MemoryInfo: /proc/meminfo")
struct MemoryInfoTests {
    static let meminfo = "MemTotal:       24598016 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"

    @Test("MemTotal and MemAvailable in bytes")
    func reads() {
        #expect(MemoryInfo.totalBytes(meminfo: Self.meminfo) == 24_598_016 * 1024)
        #expect(MemoryInfo.availableBytes(meminfo: Self.meminfo) == 20_000_000 * 1024)
    }

    @Test("a value that overflows in bytes, a missing or malformed line: nil (the fuzzer's finding: it trapped)",
          arguments: ["MemAvailable: 18446744073709551615 kB\n", "MemAvailable: 18014398509481984 kB\n", "MemFree: 1 kB\n", "MemAvailable: x kB\n", ""])
    func refuses(text: String) {
        #expect(MemoryInfo.availableBytes(meminfo: text) == nil)
    }
}
