/// Magic numbers of the images that carry a task's privileges (criu/include/magic.h).
extension CRIUMagic {
    public static let core: UInt32 = 0x5505_3847
    public static let creds: UInt32 = 0x5402_3547
    public static let mountpoints: UInt32 = 0x5556_3928
    public static let seccomp: UInt32 = 0x6441_3049
    public static let userns: UInt32 = 0x5547_4906
    public static let ttyInfo: UInt32 = 0x5945_3036
    public static let timens: UInt32 = 0x4311_4433
}

/// A task's credentials as CRIU restores them: `creds_entry` (images/creds.proto). Capability
/// sets are 32-bit words, lowest capabilities first, as the kernel's `__user_cap_data_struct`.
public struct CRIUCredentials: Sendable, Equatable, Codable {
    public var uid: UInt32 = 0, gid: UInt32 = 0, euid: UInt32 = 0, egid: UInt32 = 0
    public var suid: UInt32 = 0, sgid: UInt32 = 0, fsuid: UInt32 = 0, fsgid: UInt32 = 0
    public var capInh: [UInt32] = [], capPrm: [UInt32] = [], capEff: [UInt32] = [], capBnd: [UInt32] = []
    public var capAmb: [UInt32] = []
    public var secbits: UInt32 = 0
    public var groups: [UInt32] = []
    public var lsmProfile: String?
    public var lsmSockcreate: String?
    /// `no_new_privs`; absent in images of CRIU before 3.x, read as 0 (what CRIU restores then).
    public var noNewPrivs: UInt32 = 0

    public init() {}

    /// creds.proto field numbers of the scalar `uint32` fields.
    static var scalars: [UInt64: WritableKeyPath<CRIUCredentials, UInt32>] {[
        1: \.uid, 2: \.gid, 3: \.euid, 4: \.egid, 5: \.suid, 6: \.sgid, 7: \.fsuid, 8: \.fsgid,
        13: \.secbits, 18: \.noNewPrivs,
    ]}
    /// creds.proto field numbers of the repeated `uint32` fields.
    static var lists: [UInt64: WritableKeyPath<CRIUCredentials, [UInt32]>] {[
        9: \.capInh, 10: \.capPrm, 11: \.capEff, 12: \.capBnd, 14: \.groups, 19: \.capAmb,
    ]}

    /// Decodes one `creds_entry` message.
    static func decode(_ reader: ProtobufReader) throws -> CRIUCredentials {
        var reader = reader
        var creds = CRIUCredentials()
        while let (number, value) = try reader.nextField() {
            if let path = scalars[number] {
                creds[keyPath: path] = try reader.uint32(value, field: number)
            } else if let path = lists[number] {
                creds[keyPath: path] += try reader.uint32s(value, field: number)
            } else if number == 15 || number == 16 {
                let text = String(decoding: reader.bytes[try reader.bytesRange(value, field: number)], as: UTF8.self)
                if number == 15 { creds.lsmProfile = text } else { creds.lsmSockcreate = text }
            }
        }
        return creds
    }
}

/// One `rlimit_entry` (images/rlimit.proto).
public struct CRIURlimit: Sendable, Equatable, Codable {
    public var cur: UInt64
    public var max: UInt64

    public init(cur: UInt64, max: UInt64) {
        self.cur = cur
        self.max = max
    }
}

/// `seccomp_mode` (images/core.proto, the kernel's SECCOMP_MODE_*).
public enum CRIUSeccompMode: UInt32, Sendable, Codable {
    case disabled = 0, strict = 1, filter = 2
}

/// What one `core-<tid>.img` says about the privileges CRIU gives that thread: its
/// `thread_core_entry` (creds, seccomp) and, for a task's leader, the `task_core_entry`
/// (the deprecated per-task seccomp fields CRIU still honours, rlimits).
public struct CRIUThreadCore: Sendable, Equatable, Codable {
    public var credentials: CRIUCredentials?
    /// `thread_core.seccomp_mode`, else the task's `old_seccomp_mode` (what cr-restore.c does).
    public var seccompMode: CRIUSeccompMode?
    /// An index into `seccomp.img`'s filters: the last filter of this thread's chain.
    public var seccompFilter: UInt32?
    /// `task_rlimits_entry`: (cur, max) per resource, in RLIMIT_* order.
    public var rlimits: [CRIURlimit] = []
    /// `task_core_entry.task_state` (criu/include/pstree.h: 1 alive, 2 dead — a zombie, 3
    /// stopped, 4 helper); nil in a thread's own core image.
    public var taskState: UInt32?

    /// A zombie: CRIU restores it as a dead task with its pid alone (no threads, no creds to run).
    public var isZombie: Bool { taskState == 2 }

    public init(credentials: CRIUCredentials? = nil, seccompMode: CRIUSeccompMode? = nil, seccompFilter: UInt32? = nil) {
        self.credentials = credentials
        self.seccompMode = seccompMode
        self.seccompFilter = seccompFilter
    }

    /// Decodes `core-<tid>.img`: common and core magics, one `core_entry`.
    public static func decode(_ bytes: [UInt8], image: String) throws -> CRIUThreadCore {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.core)
        var reader = try CRIUImage.entry(bytes, from: start, image: image)
        var core = CRIUThreadCore()
        var taskMode: CRIUSeccompMode?
        var taskFilter: UInt32?
        while let (number, value) = try reader.nextField() {
            switch number {
            case 3: try readTaskCore(reader.nested(reader.bytesRange(value, field: 3)), into: &core, mode: &taskMode, filter: &taskFilter)
            case 5: try readThreadCore(reader.nested(reader.bytesRange(value, field: 5)), into: &core)
            default: continue
            }
        }
        core.seccompMode = core.seccompMode ?? taskMode
        core.seccompFilter = core.seccompFilter ?? taskFilter
        return core
    }

    private static func readTaskCore(_ reader: ProtobufReader, into core: inout CRIUThreadCore,
                                     mode: inout CRIUSeccompMode?, filter: inout UInt32?) throws {
        var reader = reader
        while let (number, value) = try reader.nextField() {
            switch number {
            case 1: core.taskState = try reader.uint32(value, field: 1)
            case 8: core.rlimits = try rlimits(reader.nested(reader.bytesRange(value, field: 8)))
            case 11: mode = try seccompMode(reader, value, field: 11)
            case 12: filter = try reader.uint32(value, field: 12)
            default: continue
            }
        }
    }

    private static func readThreadCore(_ reader: ProtobufReader, into core: inout CRIUThreadCore) throws {
        var reader = reader
        while let (number, value) = try reader.nextField() {
            switch number {
            case 10: core.credentials = try CRIUCredentials.decode(reader.nested(reader.bytesRange(value, field: 10)))
            case 11: core.seccompMode = try seccompMode(reader, value, field: 11)
            case 12: core.seccompFilter = try reader.uint32(value, field: 12)
            default: continue
            }
        }
    }

    /// An unknown mode is an error: CRIU would pass it to the kernel, which we cannot judge.
    private static func seccompMode(_ reader: ProtobufReader, _ value: ProtobufValue, field: UInt64) throws -> CRIUSeccompMode {
        let raw = try reader.uint32(value, field: field)
        guard let mode = CRIUSeccompMode(rawValue: raw) else {
            throw reader.malformed(at: reader.offset, "unknown seccomp_mode \(raw)")
        }
        return mode
    }

    private static func rlimits(_ reader: ProtobufReader) throws -> [CRIURlimit] {
        var reader = reader
        var limits: [CRIURlimit] = []
        while let (number, value) = try reader.nextField() {
            guard number == 1 else { continue }
            var entry = reader.nested(try reader.bytesRange(value, field: 1))
            var pair = CRIURlimit(cur: 0, max: 0)
            while let (field, fieldValue) = try entry.nextField() {
                if field == 1 { pair.cur = try entry.varint(fieldValue, field: 1) }
                if field == 2 { pair.max = try entry.varint(fieldValue, field: 2) }
            }
            limits.append(pair)
        }
        return limits
    }
}

extension ProtobufReader {
    /// The values of a repeated `uint32` field, unpacked (one varint) or packed.
    func uint32s(_ value: ProtobufValue, field: UInt64) throws -> [UInt32] {
        guard case let .bytes(range) = value else { return [try uint32(value, field: field)] }
        var packed = nested(range)
        var result: [UInt32] = []
        while !packed.isAtEnd {
            let number = try packed.readVarint()
            result.append(try packed.uint32(.varint(number), field: field))
        }
        return result
    }

    /// A length-delimited field as UTF-8 text (invalid bytes replaced).
    func string(_ value: ProtobufValue, field: UInt64) throws -> String {
        String(decoding: bytes[try bytesRange(value, field: field)], as: UTF8.self)
    }
}
