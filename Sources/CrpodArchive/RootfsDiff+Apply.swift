#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodCore
import CrpodLinux

/// What `RootfsDiff.apply` did.
public struct RootfsApplyReport: Sendable, Equatable {
    /// Members written: directories, regular files, symlinks, hard links, fifos.
    public var filesWritten = 0
    /// Content bytes written.
    public var bytesWritten: UInt64 = 0
    /// Whiteouts made, in `deleted.files` form (`/bin/vi`).
    public var whiteouts: [String] = []
    /// Members whose setuid/setgid bits were removed (a directory keeps setgid: it only
    /// makes new entries inherit the group).
    public var setuidStripped: [String] = []
    /// Members written with a `security.capability` xattr (file capabilities).
    public var fileCapabilities: [String] = []
    /// Extended attributes not written, as `member: attribute` (only `security.capability`
    /// and `user.*` are: `trusted.overlay.*` in an upper dir would steer overlayfs).
    public var droppedXattrs: [String] = []
    /// Members not written: an archive root entry (`./`), whose mode would land on upper itself.
    public var skipped: [String] = []
    /// libarchive warnings on members written anyway, as `member: message`.
    public var warnings: [String] = []

    public init() {}
}

extension RootfsDiff {
    /// Rebuilds an overlay upper directory from `rootfs-diff.tar` and `deleted.files`.
    ///
    /// `upperDirectory` must be an empty directory (it is resolved with realpath once, so a
    /// symlink in the caller's own path is fine). Members are written by libarchive's
    /// `archive_write_disk` with mode, owner (numeric ids, never looked up on the host),
    /// mtime and the portable xattrs; every member name — and every hard-link target — is
    /// validated here (relative, no `..`) and then rewritten to `<upper>/<name>`, and
    /// `SECURE_SYMLINKS` refuses to write through any symlink, so nothing lands outside
    /// upper. Symlink targets are kept as they are: the container resolves them. Devices and
    /// sockets are refused, setuid/setgid stripped and reported. Then each deleted path
    /// becomes a whiteout (a 0:0 character device; needs CAP_MKNOD), its missing parents made
    /// 0755 by an fd-anchored walk that refuses symlinks. Every refusal throws naming the
    /// member; the caller removes the partly written upper directory.
    @discardableResult
    public static func apply(
        tarPath: String, upperDirectory: String, deletedFiles: [String], limits: ExtractionLimits = .rootfsDiff
    ) throws(ArchiveError) -> RootfsApplyReport {
        let deleted = try Whiteouts.relativePaths(deletedFiles, limit: limits.maxMembers)
        let upper = try RootfsDiskWriter.resolveEmptyDirectory(upperDirectory)
        let writer = try RootfsDiskWriter(tarPath: tarPath, upper: upper, limits: limits)
        var report = try writer.run()
        report.whiteouts = try Whiteouts.make(deleted, in: upper)
        return report
    }
}

/// One application of a rootfs-diff.tar through `archive_write_disk`. Not Sendable.
final class RootfsDiskWriter {
    /// No `SECURE_NOABSOLUTEPATHS`: archive_write_disk has no directory-fd base, so every
    /// rewritten name is absolute (`<upper>/<name>`) and the flag would refuse them all.
    /// The names are checked to be relative before the prefix is added instead.
    static let flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS
        | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR

    /// What the tar is: a checkpoint's rootfs-diff.tar (hostile: setuid stripped) or an image
    /// layer (setuid kept, OCI whiteouts applied to the tree below).
    enum Kind { case rootfsDiff, imageLayer }

    private let reader: ArchiveReadHandle
    private let disk: OpaquePointer
    private let upper: String
    private let kind: Kind
    private var budget: ExtractionBudget
    /// Names written by this tar (a layer's opaque whiteout keeps them).
    private(set) var names: Set<String> = []
    private var report = RootfsApplyReport()
    /// An image layer's root entry (`./`): its permission bits, set on `upper` at the end.
    private var layerRootMode: mode_t?
    private let buffer: UnsafeMutableRawBufferPointer

    init(tarPath: String, upper: String, limits: ExtractionLimits, kind: Kind = .rootfsDiff) throws(ArchiveError) {
        self.kind = kind
        reader = try ArchiveReadHandle(file: try ArchiveFile.open(path: tarPath, followSymlinks: false))
        guard let disk = archive_write_disk_new() else {
            throw ArchiveError.libarchive(operation: "archive_write_disk_new", path: upper, message: "out of memory")
        }
        // No archive_write_disk_set_standard_lookup: uids and gids are the container's and
        // must not be mapped through the host's user names.
        archive_write_disk_set_options(disk, Self.flags)
        self.disk = disk
        self.upper = upper
        budget = ExtractionBudget(limits: limits, archive: tarPath, compressedBytes: reader.fileSize)
        buffer = .allocate(byteCount: 1 << 20, alignment: 64)
    }

    deinit {
        archive_write_free(disk)
        buffer.deallocate()
    }

    /// The canonical path of `path`, which must be an empty directory.
    static func resolveEmptyDirectory(_ path: String) throws(ArchiveError) -> String {
        guard let resolved = realpath(path, nil) else {
            throw ArchiveError.io(.syscall(operation: "realpath", path: path, errno: .init(rawValue: errno)))
        }
        defer { free(resolved) }
        let canonical = String(cString: resolved)
        let fd = try sys("open", path: canonical) { open(canonical, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(fd) }
        guard try TreeWalker.names(in: fd, path: canonical).isEmpty else { throw ArchiveError.targetNotEmpty(path: path) }
        return canonical
    }

    func run() throws(ArchiveError) -> RootfsApplyReport {
        var last: String?
        while let entry = try reader.nextHeader(operation: last.map { "read header after member \($0)" } ?? "read first header") {
            last = try apply(entry) ?? last
        }
        // Directory modes and times are set here, after their contents (libarchive's fixups).
        guard archive_write_close(disk) == ARCHIVE_OK else {
            throw ArchiveError.libarchive(operation: "set directory modes and times in", path: upper,
                                          message: libarchiveMessage(disk))
        }
        try budget.checkRatio(member: last ?? "", streamPosition: reader.uncompressedPosition)
        // The image's root mode is the container's `/` mode (what CRIU checks at a restore).
        if let mode = layerRootMode { try sys("chmod", path: upper) { chmod(upper, mode) } }
        return report
    }

    /// Checks, rewrites and writes one member; returns its name (nil when skipped).
    private func apply(_ entry: OpaquePointer) throws(ArchiveError) -> String? {
        let (member, declared) = ArchiveScanner.describe(entry)
        let raw = ExtractionName.raw(entry)
        if CheckpointMember.isRoot(raw.name), member.type == .directory {
            try budget.admit(member: raw.name, declaredSize: declared, streamPosition: reader.uncompressedPosition)
            report.skipped.append(raw.name)
            if kind == .imageLayer { layerRootMode = mode_t(archive_entry_perm(entry)) & 0o1777 }
            return nil
        }
        let name = try ExtractionName.validated(raw.name, validUTF8: raw.validUTF8)
        if kind == .imageLayer, let whiteout = LayerWhiteout(name) {
            try budget.admit(member: name, declaredSize: declared, streamPosition: reader.uncompressedPosition)
            try whiteout.apply(in: upper, keeping: names, layer: reader.path)
            return name
        }
        if case let .other(fileType) = member.type, fileType != crpod_ae_ififo {
            throw ArchiveError.memberTypeRefused(path: reader.path, member: name,
                                                 type: ScannedMember.describe(fileType: fileType))
        }
        guard names.insert(name).inserted else { throw ArchiveError.duplicateMember(name: name) }
        try budget.admit(member: name, declaredSize: declared, streamPosition: reader.uncompressedPosition)
        try rewrite(entry, name: name, member: member)
        try write(entry, name: name, hasData: member.type == .file)
        return name
    }

    /// Points the entry below upper, strips setuid/setgid, keeps only portable xattrs.
    private func rewrite(_ entry: OpaquePointer, name: String, member: ScannedMember) throws(ArchiveError) {
        archive_entry_set_pathname(entry, try below(name, member: name))
        if member.type == .hardlink {
            let target = member.linkTarget ?? ""
            let canonical = CheckpointMember.canonical(target)
            if let reason = CheckpointMember.unsafeNameReason(canonical) ?? ArchiveMemberName.problem(with: canonical) {
                throw ArchiveError.unsafeLinkTarget(path: reader.path, member: name, target: target, reason: reason)
            }
            archive_entry_set_hardlink(entry, try below(canonical, member: name))
        }
        let perm = UInt32(archive_entry_perm(entry))
        let strip: UInt32 = member.type == .directory ? 0o4000 : 0o6000
        if kind == .rootfsDiff, perm & strip != 0 {
            archive_entry_set_perm(entry, mode_t(perm & ~strip))
            report.setuidStripped.append(name)
        }
        filterXattrs(entry, name: name)
    }

    /// `<upper>/<name>`, refused when it reaches PATH_MAX: archive_write_disk would then
    /// chdir(2) through it, which changes the whole process's working directory.
    private func below(_ name: String, member: String) throws(ArchiveError) -> String {
        let path = "\(upper)/\(name)"
        guard path.utf8.count < Int(PATH_MAX) else {
            throw ArchiveError.unsafeMemberName(name: member, reason: "longer than PATH_MAX below \(upper)")
        }
        return path
    }

    private func filterXattrs(_ entry: OpaquePointer, name: String) {
        guard archive_entry_xattr_reset(entry) > 0 else { return }
        // A pax header may carry one attribute twice (SCHILY.xattr and LIBARCHIVE.xattr):
        // the last value wins, and it is reported once.
        var kept: [String: [UInt8]] = [:]
        var dropped: Set<String> = []
        var key: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &key, &value, &size) == ARCHIVE_OK {
            let attribute = key.map { String(cString: $0) } ?? ""
            guard PortableXattrs.isPortable(attribute) else {
                if dropped.insert(attribute).inserted { report.droppedXattrs.append("\(name): \(attribute)") }
                continue
            }
            kept[attribute] = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
        }
        if kept[PortableXattrs.capability] != nil { report.fileCapabilities.append(name) }
        guard !dropped.isEmpty else { return }
        archive_entry_xattr_clear(entry)
        for (attribute, bytes) in kept.sorted(by: { $0.key < $1.key }) {
            bytes.withUnsafeBytes { archive_entry_xattr_add_entry(entry, attribute, $0.baseAddress, $0.count) }
        }
    }

    private func write(_ entry: OpaquePointer, name: String, hasData: Bool) throws(ArchiveError) {
        try check(archive_write_header(disk, entry), name: name, operation: "create")
        if hasData { try copyData(name: name) }
        try check(archive_write_finish_entry(disk), name: name, operation: "finish")
        report.filesWritten += 1
    }

    private func copyData(name: String) throws(ArchiveError) {
        let operation = "read data of member \(name) from"
        while true {
            let n = try reader.readData(into: buffer, operation: operation)
            if n == 0 { return }
            let written = archive_write_data(disk, buffer.baseAddress, n)
            guard written >= 0 else {
                throw ArchiveError.libarchive(operation: "write data of member \(name) in", path: upper,
                                              message: libarchiveMessage(disk))
            }
            report.bytesWritten += UInt64(n)
        }
    }

    /// ARCHIVE_WARN is recorded in the report; anything worse throws naming the member.
    private func check(_ rc: Int32, name: String, operation: String) throws(ArchiveError) {
        if rc == ARCHIVE_OK { return }
        let message = libarchiveMessage(disk)
        guard rc == ARCHIVE_WARN else {
            throw ArchiveError.libarchive(operation: "\(operation) member \(name) in", path: upper, message: message)
        }
        report.warnings.append("\(name): \(oneLine(message))")
    }
}
