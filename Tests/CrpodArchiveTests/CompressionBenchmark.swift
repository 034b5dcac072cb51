import Foundation
import Testing
@testable import CrpodArchive

/// Which zstd level and how many zstd workers an export should use: writes the checkpoint
/// images of the dirty-mem workload (contrib/bench/workloads/dirty-mem.c, 100 MiB) through
/// `ArchiveWriter` as `crpod checkpoint --export` does — read from tmpfs, SHA-256 on the hashing
/// worker, zstd, writeback every 8 MiB, fsync, rename — for levels 1 and 3 and 1 and 2 threads,
/// round-robin, and prints the median time and the compression ratio of each. Opt-in:
/// `CRPOD_BENCH=1 swift test --filter CompressionBenchmark`. The images are a real checkpoint
/// directory when CRPOD_BENCH_IMAGES names one (`crpod checkpoint --keep` of dirty-mem), else
/// a `pages-1.img` filled exactly as dirty-mem fills its memory; the archive goes to
/// CRPOD_BENCH_DIR (default /var/tmp, the disk).
@Suite("ArchiveWriter zstd level and threads", .serialized)
struct CompressionBenchmark {
    static let rounds = Int(ProcessInfo.processInfo.environment["CRPOD_BENCH_ROUNDS"] ?? "") ?? 5
    /// The last setting hashes on the writing thread, as before the hashing worker.
    static let settings: [(level: Int, threads: Int, hashWorker: Bool)] = [(1, 1, true), (1, 2, true), (3, 1, true), (3, 2, true), (1, 2, false)]

    static func label(_ setting: (level: Int, threads: Int, hashWorker: Bool)) -> String {
        "level \(setting.level), \(setting.threads) thread\(setting.threads == 1 ? "" : "s")\(setting.hashWorker ? "" : ", hashing inline")"
    }

    @Test(.enabled(if: WriterBenchmark.enabled, "set CRPOD_BENCH=1 to measure"))
    func dirtyMemImages() throws {
        let environment = ProcessInfo.processInfo.environment
        let scratch = "/dev/shm/crpod-compression-bench-\(getpid())"
        let out = "\(environment["CRPOD_BENCH_DIR"] ?? "/var/tmp")/crpod-compression-bench-\(getpid())"
        try mkdirs(out)
        defer {
            try? FileManager.default.removeItem(atPath: scratch)
            try? FileManager.default.removeItem(atPath: out)
        }
        let images: String
        if let given = environment["CRPOD_BENCH_IMAGES"] {
            images = given
        } else {
            images = scratch
            try mkdirs(images)
            try put("\(images)/pages-1.img", Self.dirtyMemPages(mebibytes: 100))
        }
        let input = try Self.treeBytes(images)
        var times: [String: [Double]] = [:], sizes: [String: Int] = [:]
        for round in 0..<Self.rounds {
            for setting in Self.settings {
                let label = Self.label(setting)
                let path = "\(out)/out-\(round).tar.zst"
                let start = ContinuousClock.now
                let writer = try ArchiveWriter(destination: path, compression: .zstd, threads: setting.threads, level: setting.level)
                writer.hashesOnWorker = setting.hashWorker
                try writer.addDirectory(at: images, as: "checkpoint")
                let manifest = try writer.finish()
                times[label, default: []].append(WriterBenchmark.seconds(ContinuousClock.now - start))
                sizes[label] = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
                #expect(manifest.members.contains { $0.name.hasPrefix("checkpoint/pages-") })
                try FileManager.default.removeItem(atPath: path)
            }
        }
        for setting in Self.settings {
            let label = Self.label(setting)
            let size = sizes[label] ?? 0
            let ratio = size > 0 ? Double(input) / Double(size) : .nan
            print("export \(input >> 20) MiB dirty-mem images, zstd \(label), \(Self.rounds) rounds: median "
                + "\(Int(WriterBenchmark.median(times[label] ?? []) * 1000)) ms, \(size >> 10) KiB, ratio \(String(format: "%.2f", ratio))")
        }
    }

    /// dirty-mem's memory: per 4 KiB page an 8-byte page counter, 1280 bytes of xorshift64
    /// output (one generator across pages, same seed) and its text pattern for the rest.
    static func dirtyMemPages(mebibytes: Int) -> [UInt8] {
        let page = 4096, randomBytes = 1280
        let pattern = Array("crpod checkpoint benchmark: dirty page filler; ".utf8)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        var bytes = [UInt8](repeating: 0, count: mebibytes << 20)
        bytes.withUnsafeMutableBytes { memory in
            for p in 0..<(memory.count / page) {
                let base = p * page
                memory.storeBytes(of: UInt64(p).littleEndian, toByteOffset: base, as: UInt64.self)
                var offset = 8
                while offset < 8 + randomBytes {
                    seed ^= seed << 13
                    seed ^= seed >> 7
                    seed ^= seed << 17
                    memory.storeBytes(of: seed.littleEndian, toByteOffset: base + offset, as: UInt64.self)
                    offset += 8
                }
                for i in 0..<(page - offset) { memory[base + offset + i] = pattern[(i + p) % pattern.count] }
            }
        }
        return bytes
    }

    static func treeBytes(_ directory: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: directory).reduce(0) { total, name in
            total + (try FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")[.size] as? Int ?? 0)
        }
    }
}
