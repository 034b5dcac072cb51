import Foundation
import Testing
@testable import CrpodArchive

/// Throughput of extracting one 100 MiB member (a CRIU pages image), by compression and
/// content. Opt-in: `CRPOD_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter ExtractorBenchmark`.
@Suite("ArchiveExtractor throughput", .serialized)
struct ExtractorBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["CRPOD_BENCH"] == "1"

    @Test(.enabled(if: enabled, "set CRPOD_BENCH=1 to measure"),
          arguments: [(CompressionMethod.none, "noise"), (.zstd, "noise"), (.zstd, "patterned"), (.gzip, "patterned")])
    func hundredMiBMember(compression: CompressionMethod, content: String) throws {
        try withTempDir { dir throws in
            let size = 100 << 20
            try put("\(dir)/pages-1.img", content == "noise" ? noise(size) : patterned(size))
            let archive = "\(dir)/ckpt.\(compression.fileExtension)"
            let writer = try ArchiveWriter(destination: archive, compression: compression)
            try writer.addFile(at: "\(dir)/pages-1.img", as: "checkpoint/pages-1.img")
            let manifest = try writer.finish()
            var best = Duration.seconds(1000)
            for round in 0..<3 {
                let out = "\(dir)/out\(round)"
                let start = ContinuousClock.now
                // patterned bytes compress ~2000:1 under zstd, past the default bomb guard.
                let limits = ExtractionLimits(maxCompressionRatio: 100_000)
                let result = try ArchiveExtractor.extract(archive: archive, into: out, limits: limits)
                best = min(best, ContinuousClock.now - start)
                #expect(result.members.first?.sha256 == manifest.members.first?.sha256)
                try FileManager.default.removeItem(atPath: out)
            }
            let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
            let onDisk = try FileManager.default.attributesOfItem(atPath: archive)[.size] as? Int ?? 0
            print("extract 100 MiB \(content) (\(compression), \(onDisk >> 10) KiB on disk): "
                + "\(String(format: "%.3f", seconds)) s, \(Int(Double(size) / seconds / 1e6)) MB/s")
        }
    }
}
