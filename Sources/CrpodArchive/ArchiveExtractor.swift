#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodCore
import CrpodLinux

/// What an extraction does with a symbolic-link member.
public enum SymlinkMembers: Sendable {
    /// Throws `memberTypeRefused` (checkpoint archives, layers handled elsewhere).
    case refuse
    /// Writes nothing and lists it in `ExtractionResult.members` (type `.symlink`, its target in
    /// `linkTarget`), for a caller that resolves names among the members itself (image sources).
    case record
}

/// What an extraction wrote.
public struct ExtractionResult: Sendable {
    /// Every member in archive order (a `./` root entry excepted), as `ArchiveScanner` reports
    /// it: canonical name, `.file`, `.directory` or (recorded only) `.symlink`, size, SHA-256 of
    /// regular files, and the header's mode and owner — recorded, never applied. `content` is
    /// nil; see `contents`.
    public var members: [ScannedMember]
    /// The symbolic-link members recorded (`SymlinkMembers.record`): name → target.
    public var symlinks: [String: String] {
        var links: [String: String] = [:]
        for member in members where member.type == .symlink { links[member.name] = member.linkTarget }
        return links
    }
    /// The bytes of the regular members `keepContentOf` chose that fit `contentLimit`.
    public var contents: [String: [UInt8]]
    public var summary: ScanSummary
}

/// Extracts a checkpoint archive (zstd, gzip, xz or plain tar, decompressed in-process) into
/// an empty directory in one streaming pass, hashing every regular member as it is written.
///
/// Archives are hostile input. Only regular files and directories are written; a symlink
/// (unless `symlinks: .record`, which lists it without writing it), hard link, device, fifo,
/// socket or sparse member, an unsafe or repeated name, or a limit passed (`ExtractionLimits`,
/// including the compression-ratio bomb guard) throws an `ArchiveError` naming the member. Files are created 0600 and directories 0700 through
/// `ExtractionRoot` (openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS), so nothing is
/// written outside `target`; header modes, owners and times are not applied. Nothing is
/// fsynced. After a failure `target` holds a partial tree: the caller removes it.
public enum ArchiveExtractor {
    /// Size of the read/hash/write buffer: members reach the disk in writes of this size.
    public static let bufferSize = 1 << 20

    /// `target` is created (mode 0700; its parent must exist) or must be an empty directory.
    public static func extract(
        archive: String, into target: String, limits: ExtractionLimits = .default, symlinks: SymlinkMembers = .refuse,
        keepContentOf: (String) -> Bool = { _ in false }, contentLimit: Int = 1 << 20
    ) throws(ArchiveError) -> ExtractionResult {
        try extract(
            archive: try ArchiveFile.open(path: archive), into: target, limits: limits, symlinks: symlinks,
            keepContentOf: keepContentOf, contentLimit: contentLimit)
    }

    /// `extract` of an archive already opened (and checked) as `archive`.
    public static func extract(
        archive: OpenedFile, into target: String, limits: ExtractionLimits = .default, symlinks: SymlinkMembers = .refuse,
        keepContentOf: (String) -> Bool = { _ in false }, contentLimit: Int = 1 << 20
    ) throws(ArchiveError) -> ExtractionResult {
        try extract(
            archive: archive, into: target, limits: limits, symlinks: symlinks, keepContentOf: keepContentOf,
            contentLimit: contentLimit, writer: ExtractionSession.writeAll, onWorkerStart: nil)
    }

    /// Members larger than one buffer are hashed on a worker thread while the next chunks
    /// decompress and are written, through this many reusable buffers.
    static let pipelineDepth = 4

    /// `extract` with the function that writes each chunk and one the hashing worker calls
    /// when it starts (seams for tests).
    static func extract(
        archive: OpenedFile, into target: String, limits: ExtractionLimits, symlinks: SymlinkMembers = .refuse,
        keepContentOf: (String) -> Bool, contentLimit: Int, writer: @escaping ChunkWriter,
        onWorkerStart: (@Sendable () -> Void)?
    ) throws(ArchiveError) -> ExtractionResult {
        let session = try ExtractionSession(archive: archive, target: target, limits: limits, symlinks: symlinks, writer: writer)
        session.onWorkerStart = onWorkerStart
        while let member = try session.nextMember() {
            if member.type == .symlink {
                session.recordSymlink(member)
            } else if member.type == .directory {
                try session.writeDirectory(member)
            } else {
                let keep = keepContentOf(member.name) && member.size <= UInt64(max(0, contentLimit))
                try session.writeFile(member, keep: keep)
            }
        }
        return try session.finish()
    }
}

/// One extraction's state. Not Sendable: created, used and dropped inside `extract`.
final class ExtractionSession {
    private let reader: ArchiveReadHandle
    private let root: ExtractionRoot
    private var budget: ExtractionBudget
    private let buffer: UnsafeMutableRawBufferPointer
    /// The pipeline's buffers, allocated for the first large member and reused.
    private var pipelineBuffers: [UnsafeMutableRawBufferPointer] = []
    private let writer: ChunkWriter
    private let symlinks: SymlinkMembers
    var onWorkerStart: (@Sendable () -> Void)?
    private var names: Set<String> = []
    private var members: [ScannedMember] = []
    private var contents: [String: [UInt8]] = [:]

    init(archive: OpenedFile, target: String, limits: ExtractionLimits, symlinks: SymlinkMembers, writer: @escaping ChunkWriter) throws(ArchiveError) {
        self.writer = writer
        self.symlinks = symlinks
        // The archive first: one that cannot be read leaves no target directory behind.
        reader = try ArchiveReadHandle(file: archive)
        root = try ExtractionRoot(emptyDirectory: target)
        budget = ExtractionBudget(limits: limits, archive: archive.path, compressedBytes: reader.fileSize)
        buffer = .allocate(byteCount: ArchiveExtractor.bufferSize, alignment: 64)
    }

    deinit {
        buffer.deallocate()
        for pipelineBuffer in pipelineBuffers { pipelineBuffer.deallocate() }
    }

    /// The next member to write, checked for name, type, uniqueness and limits; nil at the end.
    func nextMember() throws(ArchiveError) -> ScannedMember? {
        while true {
            let after = members.last.map { "read header after member \($0.name)" } ?? "read first header"
            guard let entry = try reader.nextHeader(operation: after) else { return nil }
            var (member, declared) = ArchiveScanner.describe(entry)
            let raw = ExtractionName.raw(entry)
            if CheckpointMember.isRoot(raw.name), member.type == .directory {
                try budget.admit(member: raw.name, declaredSize: declared, streamPosition: reader.uncompressedPosition)
                continue
            }
            member.name = try ExtractionName.validated(raw.name, validUTF8: raw.validUTF8)
            try refuseUnlessPlain(member, entry: entry)
            guard names.insert(member.name).inserted else { throw ArchiveError.duplicateMember(name: member.name) }
            try budget.admit(member: member.name, declaredSize: declared, streamPosition: reader.uncompressedPosition)
            return member
        }
    }

    /// A symbolic link (`SymlinkMembers.record`): listed, never written.
    func recordSymlink(_ member: ScannedMember) {
        members.append(member)
    }

    func writeDirectory(_ member: ScannedMember) throws(ArchiveError) {
        try root.makeDirectory(member.name)
        members.append(member)
    }

    /// Creates the file, streams the member into it in `bufferSize` writes while hashing.
    func writeFile(_ member: ScannedMember, keep: Bool) throws(ArchiveError) {
        let path = root.fullPath(member.name)
        let fd = try root.createFile(member.name)
        let streamed: (size: UInt64, sha256: String, kept: [UInt8]?)
        do throws(ArchiveError) {
            streamed = try stream(member, to: fd, path: path, keep: keep)
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 && errno != EINTR {
            throw ArchiveError.io(.syscall(operation: "close", path: path, errno: .init(rawValue: errno)))
        }
        var record = member
        record.size = streamed.size
        record.sha256 = streamed.sha256
        members.append(record)
        if let kept = streamed.kept { contents[member.name] = kept }
    }

    func finish() throws(ArchiveError) -> ExtractionResult {
        try budget.checkRatio(member: members.last?.name ?? "", streamPosition: reader.uncompressedPosition)
        let summary = ScanSummary(
            detection: reader.detection(), memberCount: budget.members,
            totalUncompressedBytes: budget.declaredBytes, compressedBytes: reader.fileSize)
        return ExtractionResult(members: members, contents: contents, summary: summary)
    }

    /// Fills the buffer from libarchive (which hands out smaller pieces), then hashes and
    /// writes it whole; never more than the header declared.
    private func stream(
        _ member: ScannedMember, to fd: Int32, path: String, keep: Bool
    ) throws(ArchiveError) -> (size: UInt64, sha256: String, kept: [UInt8]?) {
        let hasher = try SHA256Hasher()
        if !keep && member.size > UInt64(buffer.count) {
            if pipelineBuffers.isEmpty {
                pipelineBuffers = (0..<ArchiveExtractor.pipelineDepth).map { _ in
                    .allocate(byteCount: ArchiveExtractor.bufferSize, alignment: 64)
                }
            }
            if let pipeline = ChunkPipeline.start(buffers: pipelineBuffers, hasher: hasher, onStart: onWorkerStart) {
                let total: UInt64
                do throws(ArchiveError) {
                    total = try pipelined(member, through: pipeline, fd: fd, path: path)
                } catch {
                    pipeline.finish()
                    throw error
                }
                pipeline.finish()
                return (total, try hasher.finalize(), nil)
            }
        }
        var kept: [UInt8]? = keep ? [] : nil
        kept?.reserveCapacity(Int(member.size))
        let operation = "read data of member \(member.name) from"
        var total: UInt64 = 0
        var filled = 0
        var ended = false
        while !ended {
            let free = UnsafeMutableRawBufferPointer(rebasing: buffer[filled...])
            let n = try reader.readData(into: free, operation: operation)
            ended = n == 0
            filled += n
            total += UInt64(n)
            if total > member.size { throw ArchiveError.memberTooLarge(name: member.name, size: total, limit: member.size) }
            guard ended || filled == buffer.count else { continue }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<filled])
            hasher.update(chunk)
            kept?.append(contentsOf: chunk)
            try writer(fd, chunk, path)
            filled = 0
        }
        return (total, try hasher.finalize(), kept)
    }

    /// `stream`'s loop, with each full buffer written here and then handed to the pipeline's
    /// worker to hash. Returns the member's size; the caller finishes the pipeline.
    private func pipelined(
        _ member: ScannedMember, through pipeline: ChunkPipeline, fd: Int32, path: String
    ) throws(ArchiveError) -> UInt64 {
        let operation = "read data of member \(member.name) from"
        var total: UInt64 = 0
        var ended = false
        while !ended {
            let index = pipeline.acquire()
            let chunk = pipeline.buffers[index]
            var filled = 0
            while !ended && filled < chunk.count {
                let n = try reader.readData(into: UnsafeMutableRawBufferPointer(rebasing: chunk[filled...]), operation: operation)
                ended = n == 0
                filled += n
                total += UInt64(n)
                if total > member.size { throw ArchiveError.memberTooLarge(name: member.name, size: total, limit: member.size) }
            }
            try writer(fd, UnsafeRawBufferPointer(rebasing: chunk[0..<filled]), path)
            pipeline.submit(index, count: filled)
        }
        return total
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(ArchiveError) {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            offset += try sys("write", path: path) { write(fd, rest.baseAddress, rest.count) }
        }
    }

    /// Only regular files and directories: links could point out of the target, devices and
    /// fifos have no place in checkpoint data, sparse members could hide a bomb's size.
    private func refuseUnlessPlain(_ member: ScannedMember, entry: OpaquePointer) throws(ArchiveError) {
        let type: String?
        switch member.type {
        case .file: type = archive_entry_sparse_count(entry) > 0 ? "sparse file" : nil
        case .directory: type = nil
        case .symlink: type = symlinks == .record && member.linkTarget != nil ? nil : "symbolic link"
        case .hardlink: type = "hard link"
        case let .other(fileType): type = ScannedMember.describe(fileType: fileType)
        }
        guard let type else { return }
        throw ArchiveError.memberTypeRefused(path: reader.path, member: member.name, type: type)
    }
}
