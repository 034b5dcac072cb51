/// One System V shared memory attachment of a task, from its `mm-<pid>.img`: the segment's
/// id in the (pod's) IPC namespace, where it was attached and with which access.
public struct CRIUSysVAttachment: Sendable, Equatable, Hashable, Codable {
    /// The task's PID in its own PID namespace (the image's `mm-<pid>.img`).
    public var pid: Int32
    public var shmid: UInt64
    public var start: UInt64
    public var end: UInt64
    /// `PROT_*` of the mapping (`vma_entry.prot`).
    public var prot: UInt64

    public init(pid: Int32, shmid: UInt64, start: UInt64, end: UInt64, prot: UInt64) {
        self.pid = pid
        self.shmid = shmid
        self.start = start
        self.end = end
        self.prot = prot
    }

    static let protWrite: UInt64 = 0x2
    static let protExec: UInt64 = 0x4
    /// shmat(2)'s flags for this access: `SHM_RDONLY` (010000) without write, `SHM_EXEC`
    /// (0100000) with exec.
    public var shmatFlags: UInt64 {
        (prot & Self.protWrite == 0 ? 0o10000 : 0) | (prot & Self.protExec != 0 ? 0o100000 : 0)
    }
}

extension CRIUMemoryMap {
    /// The name prefix of the image (`mm-%u.img`, criu/image-desc.c).
    public static let namePrefix = "mm-"

    /// The task's PID when `name` (a bare file name or a path) is an `mm-<pid>.img`.
    public static func pid(ofImage name: String) -> Int32? {
        CRIUImageName.id(of: name, prefix: namePrefix).flatMap { Int32(exactly: $0) }
    }

    /// The image without its SysV mappings, and those mappings. Every other byte is kept: the
    /// magics, the other fields in order (unknown ones included) and anything after the entry;
    /// the length word is recomputed. Each mapping is one shmat (a task may attach a segment
    /// twice, at two addresses); a segment split into adjacent mappings (parts mprotect()ed
    /// differently) cannot be recreated by shmat alone, so that is an error naming it.
    public static func removingSysVMappings(
        _ bytes: [UInt8], pid: Int32, image: String = "mm.img"
    ) throws -> (image: [UInt8], removed: [CRIUSysVAttachment]) {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.mm)
        var reader = try CRIUImage.entry(bytes, from: start, image: image)
        var kept: [UInt8] = []
        var removed: [CRIUSysVAttachment] = []
        while !reader.isAtEnd {
            let fieldStart = reader.offset
            guard let (number, value) = try reader.nextField() else { break }
            if number == 14, let attachment = try sysvAttachment(reader.nested(reader.bytesRange(value, field: number)), pid: pid) {
                guard !removed.contains(where: { $0.shmid == attachment.shmid && $0.end == attachment.start }) else {
                    throw CheckpointProblem.malformedImage(image: image, offset: fieldStart, reason:
                        "SysV segment \(attachment.shmid) is mapped in several parts with different access; it cannot be attached again as one")
                }
                removed.append(attachment)
            } else {
                kept += bytes[fieldStart..<reader.offset]
            }
        }
        guard !removed.isEmpty else { return (bytes, []) }
        guard let length = UInt32(exactly: kept.count) else {
            throw CheckpointProblem.malformedImage(image: image, offset: start, reason: "rewritten entry of \(kept.count) bytes is too long")
        }
        return (Array(bytes[..<start]) + ProtobufWriter.word(length) + kept + Array(bytes[reader.end...]), removed)
    }

    /// The attachment a `vma_entry` describes, nil when it is not a SysV mapping.
    static func sysvAttachment(_ vma: ProtobufReader, pid: Int32) throws -> CRIUSysVAttachment? {
        let fields = try vmaVarints(vma, [1, 2, 4, 5, 7])
        guard let status = fields[7], status & sysvIPCStatus != 0 else { return nil }
        let start = fields[1] ?? 0, end = fields[2] ?? 0
        guard end > start else {
            throw vma.malformed(at: vma.end, "SysV mapping \(String(start, radix: 16))-\(String(end, radix: 16)) is empty or reversed")
        }
        return CRIUSysVAttachment(pid: pid, shmid: fields[4] ?? 0, start: start, end: end, prot: fields[5] ?? 0)
    }
}
