/// One mount of a checkpointed mount namespace: `mnt_entry` (images/mnt.proto).
public struct CRIUMountEntry: Sendable, Equatable, Codable {
    /// CRIU's `fstype` enum; `auto` (16) and `unsupported` (0) mount by `fsname`.
    public var fstype: UInt32 = 0
    public var mountID: UInt32 = 0
    public var rootDevice: UInt32 = 0
    public var parentMountID: UInt32 = 0
    /// Per-mount flags (MS_RDONLY, MS_NOSUID, ...).
    public var flags: UInt32 = 0
    /// The directory of the filesystem that is mounted (`/` for a whole filesystem).
    public var root = ""
    public var mountpoint = ""
    public var source = ""
    public var options = ""
    public var sharedID: UInt32 = 0
    public var masterID: UInt32 = 0
    public var extMount = false
    public var fsname: String?
    public var sbFlags: UInt32 = 0
    /// The key runc's restore maps to a host path (an external bind mount).
    public var extKey: String?

    public init() {}

    public static let readOnlyFlag: UInt32 = 0x1

    /// A bind mount whose host source runc hands to CRIU by key (`ext_key` or `ext_mount`).
    public var isExternal: Bool { extMount || extKey != nil }

    /// The filesystem type's name: the `fstype` enum's kernel name, else `fsname`.
    public var typeName: String {
        CRIUMountEntry.fstypeNames[fstype] ?? fsname ?? "fstype \(fstype)"
    }

    /// The per-mount read-only flag (what `mount -o remount,bind,ro` sets; runc's read-only paths).
    public var isReadOnly: Bool { flags & Self.readOnlyFlag != 0 }

    /// images/mnt.proto `enum fstype` → the kernel's filesystem names.
    public static let fstypeNames: [UInt32: String] = [
        1: "proc", 2: "sysfs", 3: "devtmpfs", 4: "binfmt_misc", 5: "tmpfs", 6: "devpts", 7: "simfs",
        8: "pstore", 9: "securityfs", 10: "fusectl", 11: "debugfs", 12: "cgroup", 13: "aufs", 14: "mqueue",
        15: "fuse", 17: "overlay", 18: "autofs", 19: "tracefs", 23: "cgroup2",
    ]

    static var strings: [UInt64: WritableKeyPath<CRIUMountEntry, String>] { [6: \.root, 7: \.mountpoint, 8: \.source, 9: \.options] }
    static var numbers: [UInt64: WritableKeyPath<CRIUMountEntry, UInt32>] {[
        1: \.fstype, 2: \.mountID, 3: \.rootDevice, 4: \.parentMountID, 5: \.flags, 10: \.sharedID, 11: \.masterID, 17: \.sbFlags,
    ]}

    static func decode(_ reader: ProtobufReader) throws -> CRIUMountEntry {
        var reader = reader
        var entry = CRIUMountEntry()
        while let (number, value) = try reader.nextField() {
            if let path = strings[number] {
                entry[keyPath: path] = try reader.string(value, field: number)
            } else if let path = numbers[number] {
                entry[keyPath: path] = try reader.uint32(value, field: number)
            } else if number == 13 {
                entry.extMount = try reader.varint(value, field: 13) != 0
            } else if number == 14 {
                entry.fsname = try reader.string(value, field: 14)
            } else if number == 18 {
                entry.extKey = try reader.string(value, field: 18)
            }
        }
        return entry
    }
}

/// `mountpoints-<id>.img`: common and mnts magics, one `mnt_entry` per mount.
public enum CRIUMountpoints {
    public static func decode(_ bytes: [UInt8], image: String) throws -> [CRIUMountEntry] {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.mountpoints)
        return try CRIUImage.entries(bytes, from: start, image: image).map(CRIUMountEntry.decode)
    }
}

/// One ID mapping extent of a user namespace (images/userns.proto `uid_gid_extent`).
public struct CRIUIDExtent: Sendable, Equatable, Codable {
    public var first: UInt32
    public var lowerFirst: UInt32
    public var count: UInt32

    public init(first: UInt32, lowerFirst: UInt32, count: UInt32) {
        self.first = first
        self.lowerFirst = lowerFirst
        self.count = count
    }
}

/// `userns-<id>.img`: the uid and gid maps CRIU writes into a user namespace it creates.
public struct CRIUUserNamespace: Sendable, Equatable, Codable {
    public var uidMap: [CRIUIDExtent] = []
    public var gidMap: [CRIUIDExtent] = []

    public init(uidMap: [CRIUIDExtent] = [], gidMap: [CRIUIDExtent] = []) {
        self.uidMap = uidMap
        self.gidMap = gidMap
    }

    public static func decode(_ bytes: [UInt8], image: String) throws -> CRIUUserNamespace {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.userns)
        var reader = try CRIUImage.entry(bytes, from: start, image: image)
        var namespace = CRIUUserNamespace()
        while let (number, value) = try reader.nextField() {
            guard number == 1 || number == 2 else { continue }
            var extent = reader.nested(try reader.bytesRange(value, field: number))
            var fields: [UInt64: UInt32] = [:]
            while let (field, fieldValue) = try extent.nextField() {
                if (1...3).contains(field) { fields[field] = try extent.uint32(fieldValue, field: field) }
            }
            let decoded = CRIUIDExtent(first: fields[1] ?? 0, lowerFirst: fields[2] ?? 0, count: fields[3] ?? 0)
            if number == 1 { namespace.uidMap.append(decoded) } else { namespace.gidMap.append(decoded) }
        }
        return namespace
    }
}
