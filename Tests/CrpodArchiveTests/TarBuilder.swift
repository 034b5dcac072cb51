import CShims
import Foundation
@testable import CrpodArchive

/// One member of a tar written straight through libarchive, so tests can build what
/// `ArchiveWriter` refuses to: `..`, absolute names, links, devices, duplicates, bombs.
struct TarMember {
    enum Kind {
        case file([UInt8])
        /// A regular file of `count` zero bytes, written in 1 MiB pieces.
        case zeros(Int)
        case directory
        case symlink(String)
        case hardlink(String)
        case characterDevice(major: UInt32, minor: UInt32)
        case blockDevice(major: UInt32, minor: UInt32)
        case fifo
        /// A sparse file of `size` bytes whose only data is `data` at offset 0.
        case sparse(size: Int, data: [UInt8])
    }

    var name: String
    var kind: Kind
    var mode: UInt32 = 0o644
    var uid: Int64 = 0
    var gid: Int64 = 0
    var mtime: Int = 1_700_000_000
    var xattrs: [(name: String, value: [UInt8])] = []

    static func file(_ name: String, _ text: String, mode: UInt32 = 0o644) -> TarMember {
        TarMember(name: name, kind: .file(Array(text.utf8)), mode: mode)
    }

    static func dir(_ name: String, mode: UInt32 = 0o755) -> TarMember {
        TarMember(name: name, kind: .directory, mode: mode)
    }

    static func symlink(_ name: String, to target: String) -> TarMember {
        TarMember(name: name, kind: .symlink(target), mode: 0o777)
    }

    static func hardlink(_ name: String, to target: String) -> TarMember {
        TarMember(name: name, kind: .hardlink(target))
    }
}

enum TarFilter: String, CaseIterable, Sendable {
    case none, gzip, zstd, xz
}

struct TarBuildError: Error, CustomStringConvertible {
    let description: String
}

/// Writes `members` as a pax-restricted tar through `filter` to `path`.
func writeTar(_ path: String, _ members: [TarMember], filter: TarFilter = .none) throws {
    guard let archive = archive_write_new() else { throw TarBuildError(description: "archive_write_new") }
    defer { archive_write_free(archive) }
    func check(_ rc: Int32, _ what: String) throws {
        guard rc >= ARCHIVE_WARN else {
            throw TarBuildError(description: "\(what): \(String(cString: archive_error_string(archive)))")
        }
    }
    try check(archive_write_set_format_pax_restricted(archive), "format")
    switch filter {
    case .none: try check(archive_write_add_filter_none(archive), "filter")
    case .gzip: try check(archive_write_add_filter_gzip(archive), "filter")
    case .zstd: try check(archive_write_add_filter_zstd(archive), "filter")
    case .xz: try check(archive_write_add_filter_xz(archive), "filter")
    }
    try check(archive_write_open_filename(archive, path), "open \(path)")
    guard let entry = archive_entry_new() else { throw TarBuildError(description: "archive_entry_new") }
    defer { archive_entry_free(entry) }
    for member in members {
        archive_entry_clear(entry)
        describe(member, into: entry)
        try check(archive_write_header(archive, entry), "header \(member.name)")
        try writeData(member, archive: archive)
    }
    try check(archive_write_close(archive), "close")
}

private func describe(_ member: TarMember, into entry: OpaquePointer) {
    archive_entry_set_pathname(entry, member.name)
    archive_entry_set_perm(entry, mode_t(member.mode))
    archive_entry_set_uid(entry, member.uid)
    archive_entry_set_gid(entry, member.gid)
    archive_entry_set_mtime(entry, member.mtime, 0)
    switch member.kind {
    case let .file(bytes):
        archive_entry_set_filetype(entry, crpod_ae_ifreg)
        archive_entry_set_size(entry, Int64(bytes.count))
    case let .zeros(count):
        archive_entry_set_filetype(entry, crpod_ae_ifreg)
        archive_entry_set_size(entry, Int64(count))
    case .directory:
        archive_entry_set_filetype(entry, crpod_ae_ifdir)
    case let .symlink(target):
        archive_entry_set_filetype(entry, crpod_ae_iflnk)
        archive_entry_set_symlink(entry, target)
    case let .hardlink(target):
        archive_entry_set_filetype(entry, crpod_ae_ifreg)
        archive_entry_set_hardlink(entry, target)
        archive_entry_set_size(entry, 0)
    case let .characterDevice(major, minor), let .blockDevice(major, minor):
        let isChar = if case .characterDevice = member.kind { true } else { false }
        archive_entry_set_filetype(entry, isChar ? crpod_ae_ifchr : crpod_ae_ifblk)
        archive_entry_set_rdevmajor(entry, dev_t(major))
        archive_entry_set_rdevminor(entry, dev_t(minor))
    case .fifo:
        archive_entry_set_filetype(entry, crpod_ae_ififo)
    case let .sparse(size, data):
        archive_entry_set_filetype(entry, crpod_ae_ifreg)
        archive_entry_set_size(entry, Int64(size))
        archive_entry_sparse_add_entry(entry, 0, Int64(data.count))
    }
    for xattr in member.xattrs {
        xattr.value.withUnsafeBytes { archive_entry_xattr_add_entry(entry, xattr.name, $0.baseAddress, $0.count) }
    }
}

private func writeData(_ member: TarMember, archive: OpaquePointer) throws {
    switch member.kind {
    case let .file(bytes), let .sparse(_, bytes):
        let n = bytes.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw TarBuildError(description: "data \(member.name)") }
    case let .zeros(count):
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var left = count
        while left > 0 {
            let piece = min(left, chunk.count)
            let n = chunk.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, piece) }
            guard n == piece else { throw TarBuildError(description: "data \(member.name)") }
            left -= piece
        }
    default:
        return
    }
}

/// `st_mode`, `st_rdev`, inode and link count of `path` without following a symlink.
func lstatInfo(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}

/// The value of xattr `name` on the file at `path` (nil when absent).
func xattr(_ path: String, _ name: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var value = [UInt8](repeating: 0, count: 4096)
    let n = crpod_fgetxattr(fd, name, &value, value.count)
    return n >= 0 ? Array(value[0..<Int(n)]) : nil
}

/// A plain tar with one empty regular file whose name is `bytes` exactly (e.g. invalid UTF-8).
func writeTarRawName(_ path: String, bytes: [UInt8]) throws {
    guard let archive = archive_write_new(), let entry = archive_entry_new() else {
        throw TarBuildError(description: "archive_write_new")
    }
    defer {
        archive_entry_free(entry)
        archive_write_free(archive)
    }
    archive_write_set_format_ustar(archive)
    archive_write_add_filter_none(archive)
    guard archive_write_open_filename(archive, path) == ARCHIVE_OK else { throw TarBuildError(description: "open") }
    let name = (bytes + [0]).map { CChar(bitPattern: $0) }
    name.withUnsafeBufferPointer { archive_entry_copy_pathname(entry, $0.baseAddress) }
    archive_entry_set_filetype(entry, crpod_ae_ifreg)
    archive_entry_set_perm(entry, 0o644)
    archive_entry_set_size(entry, 0)
    guard archive_write_header(archive, entry) >= ARCHIVE_WARN, archive_write_close(archive) == ARCHIVE_OK else {
        throw TarBuildError(description: String(cString: archive_error_string(archive)))
    }
}
