import Foundation
import Testing
@testable import CrpodArchive

/// L1: the writeback-starting output writes the same bytes as libarchive's own fd output and
/// reports write failures with the temp path and errno.
@Suite("ArchiveWriter writeback")
struct WritebackTests {
    /// gzip is left out: its header carries the time of writing, so two runs never match.
    @Test(arguments: [CompressionMethod.none, .zstd])
    func writebackOutputIsByteIdenticalToThePlainFdOutput(compression: CompressionMethod) throws {
        try withTempDir { dir throws in
            // 3 members, 22 MiB of content in all, fixed mtimes so both archives can match.
            try put("\(dir)/src/pages-1.img", noise(12 << 20))
            try put("\(dir)/src/pages-2.img", patterned(9 << 20))
            try put("\(dir)/src/core-1.img", patterned(1 << 20, seed: 3))
            for name in ["pages-1.img", "pages-2.img", "core-1.img"] {
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_700_000_000)],
                                                      ofItemAtPath: "\(dir)/src/\(name)")
            }
            func write(_ path: String, window: Int?) throws -> ArchiveWriter {
                let writer = try ArchiveWriter(destination: path, compression: compression, writebackWindow: window)
                for name in ["pages-1.img", "pages-2.img", "core-1.img"] {
                    try writer.addFile(at: "\(dir)/src/\(name)", as: "checkpoint/\(name)")
                }
                try writer.finish(manifestName: nil)
                return writer
            }
            let plain = try write("\(dir)/plain", window: nil)
            let small = try write("\(dir)/small-window", window: 1 << 20)
            let standard = try write("\(dir)/default-window", window: ArchiveWriter.defaultWritebackWindow)
            let reference = try #require(fileBytes("\(dir)/plain"))
            #expect(reference.count > (compression == .none ? 22 << 20 : 12 << 20))
            let smallWindowMatches = fileBytes("\(dir)/small-window") == reference
            let defaultWindowMatches = fileBytes("\(dir)/default-window") == reference
            #expect(smallWindowMatches)
            #expect(defaultWindowMatches)
            #expect(plain.writebackRangesStarted == 0)
            #expect(small.writebackRangesStarted >= Int64(reference.count >> 20) - 1)
            #expect(standard.writebackRangesStarted >= Int64(reference.count / ArchiveWriter.defaultWritebackWindow) - 1)
            #expect(standard.finalSyncDuration != nil)
            let (members, _) = try scanAll("\(dir)/default-window")
            #expect(members.map(\.name) == ["checkpoint/pages-1.img", "checkpoint/pages-2.img", "checkpoint/core-1.img"])
        }
    }

    /// A 2 MiB tmpfs fills up under a 6 MiB archive: the write callback's ENOSPC comes back as
    /// an I/O error naming the temp file, and the temp file is gone.
    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"), arguments: [CompressionMethod.none, .zstd])
    func aFullFilesystemSurfacesAsWriteErrorWithPathAndErrno(compression: CompressionMethod) throws {
        try withTempDir { dir throws in
            let mountPoint = "\(dir)/small"
            try mkdirs(mountPoint)
            try run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "crpod-test", mountPoint])
            defer { try? run("/bin/umount", [mountPoint]) }
            let writer = try ArchiveWriter(destination: "\(mountPoint)/out", compression: compression, writebackWindow: 1 << 20)
            let error = archiveError {
                try writer.addBytes(noise(6 << 20), as: "pages-1.img")
                try writer.finish()
            }
            guard case .io(.syscall(let operation, let path, let errno))? = error else {
                Issue.record("expected an I/O error, got \(String(describing: error))")
                return
            }
            #expect(operation == "write")
            #expect(path == writer.temporaryPath)
            #expect(errno.rawValue == ENOSPC)
            #expect(error?.description.contains(writer.temporaryPath) == true)
            #expect(try listing(mountPoint) == [])
        }
    }
}

private func run(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw POSIXError(.EIO) }
}
