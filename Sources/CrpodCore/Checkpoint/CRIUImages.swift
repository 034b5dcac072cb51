/// CRIU's image magic numbers (criu/include/magic.h). Since images v1.1 every image but
/// `inventory.img` starts with a head magic (`common`, or `service` for the stats and
/// irmap-cache files) followed by its own; `inventory.img` has only its own.
public enum CRIUMagic {
    public static let common: UInt32 = 0x5456_4319
    public static let service: UInt32 = 0x5510_5940
    public static let inventory: UInt32 = 0x5831_3116
    public static let stats: UInt32 = 0x5709_3306
}

/// Counters from a `stats-dump` image (`dump_stats_entry`); times are microseconds.
public struct CRIUDumpStats: Sendable, Equatable, Codable {
    public var freezingTime: UInt64 = 0
    public var frozenTime: UInt64 = 0
    public var memdumpTime: UInt64 = 0
    public var memwriteTime: UInt64 = 0
    public var pagesScanned: UInt64 = 0
    public var pagesSkippedParent: UInt64 = 0
    public var pagesWritten: UInt64 = 0
    public var irmapResolve: UInt64 = 0
    public var pagesLazy: UInt64 = 0
    public var pagePipes: UInt64 = 0
    public var pagePipeBufs: UInt64 = 0
    public var shpagesScanned: UInt64 = 0
    public var shpagesSkippedParent: UInt64 = 0
    public var shpagesWritten: UInt64 = 0

    public init() {}

    /// images/stats.proto field numbers.
    static var fields: [UInt64: WritableKeyPath<CRIUDumpStats, UInt64>] {
        [1: \.freezingTime, 2: \.frozenTime, 3: \.memdumpTime, 4: \.memwriteTime,
         5: \.pagesScanned, 6: \.pagesSkippedParent, 7: \.pagesWritten, 8: \.irmapResolve,
         9: \.pagesLazy, 10: \.pagePipes, 11: \.pagePipeBufs, 12: \.shpagesScanned,
         13: \.shpagesSkippedParent, 14: \.shpagesWritten]
    }
}

/// Counters from a `stats-restore` image (`restore_stats_entry`); times are microseconds.
public struct CRIURestoreStats: Sendable, Equatable, Codable {
    public var pagesCompared: UInt64 = 0
    public var pagesSkippedCow: UInt64 = 0
    public var forkingTime: UInt64 = 0
    public var restoreTime: UInt64 = 0
    public var pagesRestored: UInt64 = 0

    public init() {}

    static var fields: [UInt64: WritableKeyPath<CRIURestoreStats, UInt64>] {
        [1: \.pagesCompared, 2: \.pagesSkippedCow, 3: \.forkingTime, 4: \.restoreTime,
         5: \.pagesRestored]
    }
}

/// A decoded `stats_entry`: a dump image has `dump`, a restore image `restore`.
public struct CRIUStats: Sendable, Equatable, Codable {
    public var dump: CRIUDumpStats?
    public var restore: CRIURestoreStats?

    public init(dump: CRIUDumpStats? = nil, restore: CRIURestoreStats? = nil) {
        self.dump = dump
        self.restore = restore
    }
}

/// Decodes CRIU's `stats-dump` / `stats-restore`: service head magic, stats magic, a
/// 4-byte little-endian length, then one protobuf `stats_entry`. Unknown fields are skipped.
public enum CRIUStatsDecoder {
    public static func decode(_ bytes: [UInt8]) throws -> (dump: CRIUDumpStats?, restore: CRIURestoreStats?) {
        let stats = try decodeStats(bytes)
        return (stats.dump, stats.restore)
    }

    public static func decodeStats(_ bytes: [UInt8], image: String = CheckpointMember.statsDump) throws -> CRIUStats {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.service, magic: CRIUMagic.stats)
        var reader = try CRIUImage.entry(bytes, from: start, image: image)
        var stats = CRIUStats()
        while let (number, value) = try reader.nextField() {
            switch number {
            case 1: stats.dump = try counters(reader, value, number, into: CRIUDumpStats(), CRIUDumpStats.fields)
            case 2: stats.restore = try counters(reader, value, number, into: CRIURestoreStats(), CRIURestoreStats.fields)
            default: continue
            }
        }
        return stats
    }

    /// Reads a nested message of varint counters into `base` through a field table.
    private static func counters<T>(
        _ outer: ProtobufReader, _ value: ProtobufValue, _ number: UInt64,
        into base: T, _ table: [UInt64: WritableKeyPath<T, UInt64>]
    ) throws -> T {
        var result = base
        var reader = outer.nested(try outer.bytesRange(value, field: number))
        while let (field, fieldValue) = try reader.nextField() {
            guard let path = table[field] else { continue }
            result[keyPath: path] = try reader.varint(fieldValue, field: field)
        }
        return result
    }
}

/// What `inventory.img` says about the image set (images/inventory.proto).
public struct CRIUInventory: Sendable, Equatable, Codable {
    /// `img_version`: 1 (no head magic), 2 (v1.1, head magic), 3 (v1.2, may hold compressed pages).
    public var imageVersion: UInt32
    public var fdinfoPerID: Bool?
    public var nsPerID: Bool?
    public var rootCgroupSet: UInt32?
    /// `lsmtype`: 0 none, 1 SELinux, 2 AppArmor.
    public var lsmType: UInt32?
    public var networkLockMethod: UInt32?

    public init(imageVersion: UInt32) {
        self.imageVersion = imageVersion
    }

    /// The LSM's name for `lsmType` (`none`, `selinux`, `apparmor`), or nil when absent or unknown.
    public var lsmName: String? {
        switch lsmType {
        case 0: "none"
        case 1: "selinux"
        case 2: "apparmor"
        default: nil
        }
    }
}

/// Decodes `inventory.img`: the inventory magic alone, a 4-byte little-endian length and
/// one protobuf `inventory_entry`.
public enum CRIUInventoryDecoder {
    public static func decode(_ bytes: [UInt8], image: String = CheckpointMember.inventory) throws -> CRIUInventory {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: nil, magic: CRIUMagic.inventory)
        var reader = try CRIUImage.entry(bytes, from: start, image: image)
        var version: UInt32?
        var fields: [UInt64: UInt64] = [:]
        while let (number, value) = try reader.nextField() {
            guard [1, 2, 4, 5, 6, 11].contains(number) else { continue }
            let number32 = try reader.varint(value, field: number)
            if number == 1 { version = UInt32(truncatingIfNeeded: number32) }
            fields[number] = number32
        }
        guard let version else {
            throw CheckpointProblem.malformedImage(image: image, offset: start, reason: "no img_version (field 1)")
        }
        var inventory = CRIUInventory(imageVersion: version)
        inventory.fdinfoPerID = fields[2].map { $0 != 0 }
        inventory.nsPerID = fields[4].map { $0 != 0 }
        inventory.rootCgroupSet = fields[5].map { UInt32(truncatingIfNeeded: $0) }
        inventory.lsmType = fields[6].map { UInt32(truncatingIfNeeded: $0) }
        inventory.networkLockMethod = fields[11].map { UInt32(truncatingIfNeeded: $0) }
        return inventory
    }
}

/// Framing shared by CRIU's protobuf images.
enum CRIUImage {
    /// The offset after the magic words. With `head`, also accepts the pre-v1.1 layout
    /// that has only `magic`.
    static func payloadStart(_ bytes: [UInt8], image: String, head: UInt32?, magic: UInt32) throws -> Int {
        let first = word(bytes, at: 0)
        if let head, first == head {
            let second = word(bytes, at: 4)
            guard second == magic else {
                throw CheckpointProblem.wrongMagic(image: image, expected: magic, found: second)
            }
            return 8
        }
        guard first == magic else {
            throw CheckpointProblem.wrongMagic(image: image, expected: head ?? magic, found: first)
        }
        return 4
    }

    /// A reader over the one length-prefixed entry starting at `start`.
    static func entry(_ bytes: [UInt8], from start: Int, image: String) throws -> ProtobufReader {
        guard let length = word(bytes, at: start) else {
            throw CheckpointProblem.malformedImage(image: image, offset: start, reason: "no entry length")
        }
        let body = start + 4
        guard Int(length) <= bytes.count - body else {
            throw CheckpointProblem.malformedImage(
                image: image, offset: start,
                reason: "entry of \(length) bytes but only \(bytes.count - body) follow")
        }
        return ProtobufReader(bytes, range: body..<(body + Int(length)), image: image)
    }

    /// The little-endian 32-bit word at `offset`, or nil past the end.
    static func word(_ bytes: [UInt8], at offset: Int) -> UInt32? {
        guard offset >= 0, bytes.count - offset >= 4 else { return nil }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }
}

/// The CRIU version recorded in a `dump.log` / `restore.log`.
public struct CRIULogVersion: Sendable, Equatable, Codable {
    /// As logged: `4.1.1`.
    public var text: String
    /// CRIU's numbering: 10000·major + 100·minor + sublevel (4.1.1 → 40101).
    public var number: Int

    public init(text: String, number: Int) {
        self.text = text
        self.number = number
    }

    /// Lines searched for `Version: `; CRIU logs it within the first few.
    public static let searchedLines = 64

    /// Finds `Version: X.Y[.Z]` in the first `searchedLines` lines, or nil.
    public static func parse(_ log: String) -> CRIULogVersion? {
        for line in log.split(separator: "\n", omittingEmptySubsequences: false).prefix(searchedLines) {
            guard let marker = line.firstRange(of: "Version: ") else { continue }
            let word = line[marker.upperBound...].prefix { $0.isNumber || $0 == "." }
            if let version = dotted(word) { return version }
        }
        return nil
    }

    private static func dotted(_ word: Substring) -> CRIULogVersion? {
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count) else { return nil }
        let numbers = parts.compactMap { $0.count <= 4 ? Int($0) : nil }
        guard numbers.count == parts.count, numbers.dropFirst().allSatisfy({ $0 < 100 }) else { return nil }
        let sublevel = numbers.count == 3 ? numbers[2] : 0
        return CRIULogVersion(text: String(word), number: numbers[0] * 10000 + numbers[1] * 100 + sublevel)
    }
}
