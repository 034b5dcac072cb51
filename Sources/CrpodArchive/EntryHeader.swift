#if canImport(Glibc)
import Glibc
#endif
import CShims

/// The metadata of one tar member, applied to a reused `archive_entry`.
struct EntryHeader {
    var name: String
    var fileType: UInt32
    var permissions: UInt32
    var size: Int64 = 0
    var uid: Int64 = 0
    var gid: Int64 = 0
    var mtime: timespec
    var symlink: String?
    var hardlink: String?
    var rdev: dev_t = 0
    var xattrs: [(name: String, value: [UInt8])] = []

    /// A member made up by crpod (manifest, metadata bytes): mtime now.
    init(name: String, fileType: UInt32, permissions: UInt32) {
        self.name = name
        self.fileType = fileType
        self.permissions = permissions
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        self.mtime = now
    }

    /// A member copied from the filesystem: type, mode, owner, mtime and device from `info`.
    init(name: String, info: stat) {
        self.name = name
        self.fileType = UInt32(info.st_mode) & crpod_ae_ifmt
        self.permissions = UInt32(info.st_mode) & 0o7777
        self.size = fileType == crpod_ae_ifreg ? Int64(info.st_size) : 0
        self.uid = Int64(info.st_uid)
        self.gid = Int64(info.st_gid)
        self.mtime = info.st_mtim
        self.rdev = info.st_rdev
    }

    func apply(to entry: OpaquePointer) {
        archive_entry_clear(entry)
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, fileType)
        archive_entry_set_perm(entry, mode_t(permissions))
        archive_entry_set_size(entry, size)
        archive_entry_set_uid(entry, uid)
        archive_entry_set_gid(entry, gid)
        archive_entry_set_mtime(entry, mtime.tv_sec, mtime.tv_nsec)
        if let symlink { archive_entry_set_symlink(entry, symlink) }
        if let hardlink { archive_entry_set_hardlink(entry, hardlink) }
        if fileType == crpod_ae_ifchr || fileType == crpod_ae_ifblk { archive_entry_set_rdev(entry, rdev) }
        for xattr in xattrs {
            xattr.value.withUnsafeBytes { archive_entry_xattr_add_entry(entry, xattr.name, $0.baseAddress, $0.count) }
        }
    }
}

/// Extended attributes podman carries in rootfs-diff.tar: `security.capability` and `user.*`
/// (never `trusted.overlay.*` or `security.selinux`, which belong to the host's layer store).
enum PortableXattrs {
    /// The attributes crpod carries across a checkpoint; everything else (overlay, SELinux,
    /// trusted.*, ACLs) belongs to the host and is neither read nor written.
    static func isPortable(_ name: String) -> Bool {
        name == capability || name.hasPrefix("user.")
    }

    static let capability = "security.capability"

    static func read(fd: Int32) -> [(name: String, value: [UInt8])] {
        let needed = Int(crpod_flistxattr(fd, nil, 0))
        guard needed > 0 else { return [] }
        var list = [CChar](repeating: 0, count: needed)
        let length = Int(crpod_flistxattr(fd, &list, list.count))
        guard length > 0 else { return [] }
        var result: [(name: String, value: [UInt8])] = []
        for raw in list[0..<length].split(separator: 0) {
            let name = String(decoding: raw.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard isPortable(name) else { continue }
            var value = [UInt8](repeating: 0, count: 65536)
            let size = Int(crpod_fgetxattr(fd, name, &value, value.count))
            if size >= 0 { result.append((name, Array(value[0..<size]))) }
        }
        return result
    }
}
