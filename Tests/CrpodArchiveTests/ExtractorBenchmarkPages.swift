import Foundation
import Testing
@testable import CrpodArchive

/// Extraction throughput on a realistic CRIU pages image: 4 KiB pages, each 1 KiB of random
/// bytes and 3 KiB of zeros (compresses ~4:1 under zstd). Opt-in like `ExtractorBenchmark`.
@Suite("ArchiveExtractor throughput, page-like content", .serialized)
struct ExtractorBenchmarkPages {
    @Test(.enabled(if: ExtractorBenchmark.enabled, "set CRPOD_BENCH=1 to measure"))
    func hundredMiBPages() throws {
        try withTempDir { dir throws in
            let size = 100 << 20
            let random = noise(size / 4)
            var bytes = [UInt8](repeating: 0, count: size)
            for page in 0..<(size / 4096) {
                bytes.replaceSubrange(page * 4096..<page * 4096 + 1024, with: random[page * 1024..<(page + 1) * 1024])
            }
            try put("\(dir)/pages-1.img", bytes)
            let archive = "\(dir)/ckpt.tar.zst"
            let writer = try ArchiveWriter(destination: archive, compression: .zstd)
            try writer.addFile(at: "\(dir)/pages-1.img", as: "checkpoint/pages-1.img")
            let manifest = try writer.finish()
            var best = Duration.seconds(1000)
            for round in 0..<5 {
                let out = "\(dir)/out\(round)"
                let start = ContinuousClock.now
                let result = try ArchiveExtractor.extract(archive: archive, into: out)
                best = min(best, ContinuousClock.now - start)
                #expect(result.members.first?.sha256 == manifest.members.first?.sha256)
                try FileManager.default.removeItem(atPath: out)
            }
            let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
            let onDisk = try FileManager.default.attributesOfItem(atPath: archive)[.size] as? Int ?? 0
            print("extract 100 MiB pages (zstd, \(onDisk >> 10) KiB on disk): "
                + "\(String(format: "%.3f", seconds)) s, \(Int(Double(size) / seconds / 1e6)) MB/s")
        }
    }
}
