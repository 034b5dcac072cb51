import Foundation
import Testing
@testable import CrpodArchive

/// Export of one 100 MiB incompressible member (a CRIU pages image) to the disk under
/// CRPOD_BENCH_DIR (default /var/tmp), with and without writeback started while writing.
/// Reports medians of the whole write (create → finish, fsyncs included) and of the final
/// fsync alone. Opt-in:
/// `CRPOD_BENCH=1 swift test --filter WriterBenchmark` (a debug build is fine: the time is spent
/// in libarchive, zstd, OpenSSL and the kernel, one Swift call per 1 MiB chunk).
@Suite("ArchiveWriter export time", .serialized)
struct WriterBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["CRPOD_BENCH"] == "1"
    static let rounds = Int(ProcessInfo.processInfo.environment["CRPOD_BENCH_ROUNDS"] ?? "") ?? 7
    /// CRPOD_BENCH_WINDOW_MIB tries another writeback window than the default 8 MiB.
    static let window = Int(ProcessInfo.processInfo.environment["CRPOD_BENCH_WINDOW_MIB"] ?? "").map { $0 << 20 }
        ?? ArchiveWriter.defaultWritebackWindow

    @Test(.enabled(if: enabled, "set CRPOD_BENCH=1 to measure"), arguments: [CompressionMethod.none, .zstd])
    func hundredMiBNoise(compression: CompressionMethod) throws {
        let base = ProcessInfo.processInfo.environment["CRPOD_BENCH_DIR"] ?? "/var/tmp"
        let dir = "\(base)/crpod-writer-bench-\(getpid())"
        try mkdirs(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        try put("\(dir)/pages-1.img", Array(try #require(try random.read(upToCount: 100 << 20))))
        var totals: [String: [Double]] = [:], syncs: [String: [Double]] = [:]
        // Alternate the two outputs round by round so load changes hit both alike.
        for round in 0..<Self.rounds {
            for (label, window) in [("plain fd", nil), ("writeback", Self.window)] as [(String, Int?)] {
                let path = "\(dir)/out-\(round).\(compression.fileExtension)"
                let start = ContinuousClock.now
                let writer = try ArchiveWriter(destination: path, compression: compression, writebackWindow: window)
                try writer.addFile(at: "\(dir)/pages-1.img", as: "checkpoint/pages-1.img")
                try writer.finish()
                totals[label, default: []].append(Self.seconds(ContinuousClock.now - start))
                syncs[label, default: []].append(Self.seconds(try #require(writer.finalSyncDuration)))
                try FileManager.default.removeItem(atPath: path)
            }
        }
        for label in ["plain fd", "writeback"] {
            let total = Self.median(totals[label] ?? []), sync = Self.median(syncs[label] ?? [])
            let output = label == "plain fd" ? label : "\(label) every \(Self.window >> 20) MiB"
            print("write 100 MiB noise (\(compression), \(output), \(Self.rounds) rounds): median total "
                + "\(Int(total * 1000)) ms, median final fsync \(Int(sync * 1000)) ms")
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }
}
