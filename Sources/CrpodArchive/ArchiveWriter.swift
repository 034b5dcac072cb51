#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodLinux
import SystemPackage

/// Writes a tar archive (libarchive "pax restricted": plain ustar headers, a pax extended
/// header only where ustar cannot hold a value — what Go's archive/tar, and so podman, does)
/// through zstd, gzip or no compression, into `<destination>.part-<random>` (mode 0600,
/// O_CLOEXEC). `finish` appends the manifest, fsyncs and renames it into place.
///
/// Writeback starts while writing: every `writebackWindow` bytes the writer asks the kernel to
/// write the range just produced (`sync_file_range`) and waits for the one before, so dirty
/// pages stay bounded and the final fsync only flushes the tail (see crpod_writeback in CShims).
///
/// Not Sendable: the libarchive handle stays with one owner on one task. A failure after a
/// member's header was written leaves the stream inconsistent, so it discards the temp file
/// and every later call throws `.writerClosed`; failures before that (bad name, missing
/// source) leave the writer usable.
public final class ArchiveWriter {
    public let destination: String
    public let temporaryPath: String
    public let compression: CompressionMethod

    private enum State { case open, finished, aborted, failed }

    private let progress: (@Sendable (UInt64) -> Void)?
    private var archive: OpaquePointer?
    private var fd: Int32
    /// Output state shared with the C write callback; nil when writing through plain `archive_write_open_fd`.
    private let writeback: UnsafeMutablePointer<crpod_writeback>?
    private let entry: OpaquePointer
    private var state = State.open
    private var names: Set<String> = []
    private var members: [ArchiveManifest.Member] = []
    private var bytesAdded: UInt64 = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ArchiveWriter.chunkSize, alignment: 64)
    /// Chunks in flight between this thread and the hashing worker (allocated for the first large member).
    var pipelineBuffers: [UnsafeMutableRawBufferPointer] = []
    /// Runs first on each hashing worker (a seam for tests).
    var onHashWorkerStart: (@Sendable () -> Void)?
    /// false hashes every member on the writing thread (the benchmark's baseline).
    var hashesOnWorker = true

    static let chunkSize = 1 << 20
    static let pipelineDepth = 4
    /// Chosen by measurement (BENCHMARKS.md, "Export: zstd level and threads, …"): on the
    /// dirty-mem images level 3 took 1.5–1.8× as long as level 1 for an archive < 1 % smaller.
    public static let zstdLevel = 1
    public static let gzipLevel = 6
    /// 8 MiB: large enough that each sync_file_range call covers many pages, small enough that
    /// at most ~16 MiB are dirty when `finish` fsyncs.
    public static let defaultWritebackWindow = 8 << 20

    /// How long the fsync in `finish` took (nil before `finish`), for `--print-stats` and benchmarks.
    public private(set) var finalSyncDuration: Duration?

    /// Byte ranges handed to the kernel for writeback so far (0 without a writeback window).
    public var writebackRangesStarted: Int64 { writeback?.pointee.ranges_started ?? 0 }

    /// `writebackWindow` nil writes through libarchive's own fd output, with no early writeback.
    /// `threads` is zstd's worker count (compression then runs beside the writing thread);
    /// `level` overrides the method's default level.
    public init(
        destination: String, compression: CompressionMethod, threads: Int = 2, level: Int? = nil,
        writebackWindow: Int? = ArchiveWriter.defaultWritebackWindow,
        progress: (@Sendable (UInt64) -> Void)? = nil
    ) throws(ArchiveError) {
        let temp = "\(destination).part-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        let fd = try sys("create", path: temp) { open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard let entry = archive_entry_new() else {
            close(fd)
            unlink(temp)
            throw ArchiveError.libarchive(operation: "archive_entry_new", path: temp, message: "out of memory")
        }
        self.destination = destination
        self.temporaryPath = temp
        self.compression = compression
        self.progress = progress
        self.fd = fd
        self.entry = entry
        self.writeback = writebackWindow.map { window in
            let state = UnsafeMutablePointer<crpod_writeback>.allocate(capacity: 1)
            crpod_writeback_init(state, fd, Int64(window))
            return state
        }
        do throws(ArchiveError) {
            try sys("fchmod", path: temp) { fchmod(fd, 0o600) }
            archive = try Self.openArchive(
                output: writeback.map { .writeback($0) } ?? .fd(fd), path: temp, compression: compression,
                level: level, threads: threads)
        } catch {
            discard()
            throw error
        }
    }

    deinit {
        if state == .open || state == .failed { discard() }
        archive_entry_free(entry)
        buffer.deallocate()
        for chunk in pipelineBuffers { chunk.deallocate() }
        writeback?.deallocate()
    }

    /// Adds the regular file at `path` as `name`, streaming it in 1 MiB chunks while hashing.
    public func addFile(at path: String, as name: String) throws(ArchiveError) {
        try requireOpen()
        try ArchiveMemberName.validate(name)
        let source = try sys("open", path: path) { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        defer { close(source) }
        var info = stat()
        try sys("fstat", path: path) { fstat(source, &info) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ArchiveError.notARegularFile(path: path) }
        try claim(name)
        try writeHeader(EntryHeader(name: name, info: info))
        try writeContent(from: source, size: UInt64(max(0, info.st_size)), name: name, sourcePath: path)
    }

    /// Adds `bytes` as a regular file owned by the current user, with `mode` and mtime now.
    public func addBytes(_ bytes: [UInt8], as name: String, mode: UInt32 = 0o600) throws(ArchiveError) {
        try addBytes(bytes, as: name, mode: mode, recordInManifest: true)
    }

    /// Appends the manifest (unless `manifestName` is nil) as the last member, closes the
    /// stream, fsyncs the file, renames it to `destination` and fsyncs the directory.
    @discardableResult
    public func finish(manifestName: String? = ArchiveManifest.defaultName) throws(ArchiveError) -> ArchiveManifest {
        try requireOpen()
        let manifest = ArchiveManifest(members: members.sorted { $0.name < $1.name })
        if let manifestName {
            try addBytes(try manifest.encoded(), as: manifestName, mode: 0o600, recordInManifest: false)
        }
        guard let archive else { throw ArchiveError.writerClosed(path: destination) }
        guard archive_write_close(archive) == ARCHIVE_OK else {
            throw fail(outputError() ?? .libarchive(operation: "close archive", path: temporaryPath,
                                                    message: libarchiveMessage(archive)))
        }
        archive_write_free(archive)
        self.archive = nil
        do throws(ArchiveError) {
            let syncStart = ContinuousClock.now
            try sys("fsync", path: temporaryPath) { fsync(fd) }
            finalSyncDuration = ContinuousClock.now - syncStart
            try sys("close", path: temporaryPath) { close(fd) }
            fd = -1
            try sys("rename", path: destination) { rename(temporaryPath, destination) }
        } catch {
            throw fail(error)
        }
        state = .finished
        try io { () throws(LinuxError) in try Files.syncDirectory(of: destination) }
        return manifest
    }

    /// Discards the temp file. Safe to call more than once; a no-op after `finish`.
    public func abort() {
        guard state == .open || state == .failed else { return }
        discard()
        state = .aborted
    }

    // MARK: - Internals shared with the tree walker

    func requireOpen() throws(ArchiveError) {
        guard state == .open, archive != nil else { throw ArchiveError.writerClosed(path: destination) }
    }

    /// Validates `name` and reserves it; throws on an unsafe or repeated name.
    func claim(_ name: String) throws(ArchiveError) {
        try ArchiveMemberName.validate(name)
        guard names.insert(name).inserted else { throw ArchiveError.duplicateMember(name: name) }
    }

    func addBytes(_ bytes: [UInt8], as name: String, mode: UInt32, recordInManifest: Bool) throws(ArchiveError) {
        try requireOpen()
        try claim(name)
        var header = EntryHeader(name: name, fileType: crpod_ae_ifreg, permissions: mode & 0o7777)
        header.size = Int64(bytes.count)
        header.uid = Int64(geteuid())
        header.gid = Int64(getegid())
        try writeHeader(header)
        let hasher = try SHA256Hasher()
        hasher.update(bytes)
        try writeData(bytes, name: name)
        try finishEntry(name: name)
        if recordInManifest {
            members.append(.init(name: name, size: Int64(bytes.count), sha256: try hasher.finalize()))
        }
    }

    /// Writes one member header; a libarchive failure here poisons the writer.
    func writeHeader(_ header: EntryHeader) throws(ArchiveError) {
        guard let archive else { throw ArchiveError.writerClosed(path: destination) }
        header.apply(to: entry)
        let rc = archive_write_header(archive, entry)
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
            throw fail(outputError() ?? .libarchive(operation: "write header of \(header.name) to",
                                                    path: temporaryPath, message: libarchiveMessage(archive)))
        }
    }

    func finishEntry(name: String) throws(ArchiveError) {
        guard let archive else { throw ArchiveError.writerClosed(path: destination) }
        let rc = archive_write_finish_entry(archive)
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
            throw fail(outputError() ?? .libarchive(operation: "finish member \(name) in", path: temporaryPath,
                                                    message: libarchiveMessage(archive)))
        }
    }

    private func writeData(_ bytes: [UInt8], name: String) throws(ArchiveError) {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + (1 << 20))
            let written = bytes[offset..<end].withUnsafeBytes { append($0) }
            guard written == end - offset else { throw dataError(name) }
            offset = end
        }
    }

    func writeData(_ bytes: UnsafeRawBufferPointer, name: String) throws(ArchiveError) {
        guard append(bytes) == bytes.count else { throw dataError(name) }
    }

    /// archive_write_data plus progress; returns what libarchive took (-1 on failure).
    private func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let archive, bytes.count > 0 else { return archive == nil ? -1 : 0 }
        let written = archive_write_data(archive, bytes.baseAddress, bytes.count)
        if written > 0 {
            bytesAdded += UInt64(written)
            progress?(bytesAdded)
        }
        return written
    }

    private func dataError(_ name: String) -> ArchiveError {
        let message = archive.map(libarchiveMessage) ?? "writer closed"
        return fail(outputError() ?? .libarchive(operation: "write data of \(name) to", path: temporaryPath, message: message))
    }

    /// The write or writeback failure the output callback recorded, as an I/O error with path and errno.
    private func outputError() -> ArchiveError? {
        guard let state = writeback?.pointee, state.error != 0 else { return nil }
        let operation = state.operation.map { String(cString: $0) } ?? "write"
        return .io(.syscall(operation: operation, path: temporaryPath, errno: Errno(rawValue: state.error)))
    }

    /// Records a member written by `writeContent`.
    func recordMember(_ name: String, size: UInt64, sha256: String) {
        members.append(.init(name: name, size: Int64(clamping: size), sha256: sha256))
    }

    /// Poisons the writer (temp file removed) and hands back the error to throw.
    func fail(_ error: ArchiveError) -> ArchiveError {
        discard()
        state = .failed
        return error
    }

    /// Frees the libarchive handle without writing a trailer, closes and unlinks the temp file.
    private func discard() {
        if let archive {
            archive_write_fail(archive)
            archive_write_free(archive)
            self.archive = nil
        }
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        unlink(temporaryPath)
    }

    private enum Output {
        case fd(Int32)
        case writeback(UnsafeMutablePointer<crpod_writeback>)
    }

    private static func openArchive(
        output: Output, path: String, compression: CompressionMethod, level: Int?, threads: Int
    ) throws(ArchiveError) -> OpaquePointer {
        guard let archive = archive_write_new() else {
            throw ArchiveError.libarchive(operation: "archive_write_new", path: path, message: "out of memory")
        }
        func check(_ operation: String, _ rc: Int32) throws(ArchiveError) {
            guard rc == ARCHIVE_OK else {
                let error = ArchiveError.libarchive(operation: operation, path: path, message: libarchiveMessage(archive))
                archive_write_free(archive)
                throw error
            }
        }
        try check("set format pax restricted", archive_write_set_format_pax_restricted(archive))
        // xattrs only as SCHILY.xattr.* (what Go's archive/tar reads), not also LIBARCHIVE.xattr.*.
        _ = archive_write_set_format_option(archive, "pax", "xattrheader", "SCHILY")
        switch compression {
        case .zstd:
            try check("add zstd filter", archive_write_add_filter_zstd(archive))
            try check("set zstd level", archive_write_set_filter_option(archive, "zstd", "compression-level", "\(level ?? zstdLevel)"))
            // libarchive 3.6+ passes this to ZSTD_c_nbWorkers (0: compress on the writing
            // thread; n ≥ 1: n workers beside it); older ones reject the option, which only
            // costs speed, so a failure is ignored.
            if threads >= 1 { _ = archive_write_set_filter_option(archive, "zstd", "threads", "\(threads)") }
        case .gzip:
            try check("add gzip filter", archive_write_add_filter_gzip(archive))
            try check("set gzip level", archive_write_set_filter_option(archive, "gzip", "compression-level", "\(level ?? gzipLevel)"))
        case .none:
            try check("add no filter", archive_write_add_filter_none(archive))
        }
        // No padding of the last block to 10 KiB: the stream ends after the two zero blocks.
        try check("set last block", archive_write_set_bytes_in_last_block(archive, 1))
        switch output {
        case .fd(let fd): try check("open archive", archive_write_open_fd(archive, fd))
        case .writeback(let state): try check("open archive", crpod_archive_write_open_writeback(archive, state))
        }
        return archive
    }
}
