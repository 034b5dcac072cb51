/// One System V shared memory segment from `ipcns-shm-<id>.img` (`ipc_shm_entry`,
/// images/ipc-shm.proto: `desc = 1` (`ipc_desc_entry`: key 1, uid 2, gid 3, cuid 4, cgid 5,
/// mode 6, id 7), `size = 2`, `optional bool in_pagemaps = 3`).
public struct CRIUShmSegment: Sendable, Equatable, Codable {
    public var id: UInt32
    public var key: UInt32
    public var mode: UInt32
    public var size: UInt64
    /// True when the contents are in `pagemap-shmem-<id>.img` + a `pages-<n>.img` (every
    /// CRIU since 3.x); false for old images that inline them after the entry.
    public var inPagemaps: Bool

    public init(id: UInt32, key: UInt32, mode: UInt32, size: UInt64, inPagemaps: Bool) {
        self.id = id
        self.key = key
        self.mode = mode
        self.size = size
        self.inPagemaps = inPagemaps
    }
}

/// Which images of a checkpoint hold the System V IPC objects of its IPC namespace.
///
/// CRIU dumps an IPC namespace whole (criu/ipc_ns.c `dump_ipc_ns`), so a pod member's
/// checkpoint carries every object of the pod-shared namespace, other members' included.
/// Restoring with that namespace joined, `prepare_ipc_ns` re-creates each object with
/// `IPC_CREAT | IPC_EXCL` at its old id and fails (`Failed to create shm set: File exists`)
/// when the target pod already has one. Per namespace id N (criu/image-desc.c):
/// - `ipcns-shm-N.img`: segment descriptors (`CRIUShmSegment`); their contents are in
///   `pagemap-shmem-<segment id>.img` plus the `pages-<n>.img` its head names (old images:
///   inline after each entry);
/// - `ipcns-msg-N.img`: queues, each followed by its messages (entries + raw text);
/// - `ipcns-sem-N.img`: semaphore sets, each followed by its raw values;
/// - `ipcns-var-N.img`: the namespace's IPC sysctls (kernel.sem, msgmax, msgmnb, msgmni,
///   shmmax, shmall, shmmni, shm_rmid_forced, mqueue limits, *_next_id). Not an object image.
///
/// Dropping the three object images (`objectImages(in:)`) is enough: CRIU opens a missing
/// image as empty (criu/image.c), so `prepare_ipc_shm`/`_msg`/`_sem` restore nothing. The
/// inventory does not list images, and nothing else opens these names. Verified on CRIU 4.1.1:
/// the restore that failed with `File exists` succeeded after dropping them.
/// - `pagemap-shmem-<id>.img` and its pages file are then unreferenced; leaving them is
///   harmless (only `restore_sysv_shmem_content` for a collected segment opens them), and
///   their names alone cannot tell a SysV segment from anonymous shared memory, whose
///   pagemaps share the prefix. Use `shmSegments` + `shmemPagemapImage` to name them.
/// - Keep `ipcns-var-N.img`: `prepare_ipc_var` requires it. It still writes the checkpoint's
///   IPC sysctls into the joined namespace.
/// - Not enough when a restored task has a segment attached (a SysV VMA in `mm-<pid>.img`):
///   CRIU maps it only if the segment was collected from `ipcns-shm` (`open_shmem_sysv`:
///   `Can't find sysv shmem`).
public enum CRIUIPCImages {
    /// The object kinds and their image name prefixes.
    public static let objectPrefixes = ["ipcns-shm-", "ipcns-msg-", "ipcns-sem-"]
    public static let variablesPrefix = "ipcns-var-"
    public static let shmemPagemapPrefix = "pagemap-shmem-"

    /// Whether `name` (a bare file name or a path) is `ipcns-shm-N.img`, `ipcns-msg-N.img`
    /// or `ipcns-sem-N.img` with a decimal N.
    public static func isIPCObjectImage(_ name: String) -> Bool {
        objectPrefixes.contains { CRIUImageName.id(of: name, prefix: $0) != nil }
    }

    /// Whether `name` is `ipcns-var-N.img`, which a restore must keep.
    public static func isIPCVariablesImage(_ name: String) -> Bool {
        CRIUImageName.id(of: name, prefix: variablesPrefix) != nil
    }

    /// The names among `names` to drop so CRIU restores no SysV IPC objects, in their order.
    public static func objectImages(in names: [String]) -> [String] {
        names.filter(isIPCObjectImage)
    }

    /// `pagemap-shmem-<id>.img`, which holds a segment's contents when `inPagemaps`.
    public static func shmemPagemapImage(segmentID: UInt32) -> String {
        "\(shmemPagemapPrefix)\(segmentID).img"
    }

    /// The segments described by an `ipcns-shm-N.img`. Inline contents of old images are
    /// skipped (`size` rounded up to 4 bytes); a segment whose contents run past the end, a
    /// missing required field or a truncated entry is an error.
    public static func shmSegments(_ bytes: [UInt8], image: String = "ipcns-shm.img") throws -> [CRIUShmSegment] {
        var offset = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.ipcnsShm)
        var segments: [CRIUShmSegment] = []
        while offset < bytes.count {
            let reader = try CRIUImage.entry(bytes, from: offset, image: image)
            let segment = try shmSegment(reader, at: offset)
            offset = reader.end
            if !segment.inPagemaps {
                offset += try inlineContentLength(segment, bytes: bytes, at: offset, image: image)
            }
            segments.append(segment)
        }
        return segments
    }

    /// The byte count of inline contents at `offset`, checked against what remains.
    private static func inlineContentLength(
        _ segment: CRIUShmSegment, bytes: [UInt8], at offset: Int, image: String
    ) throws -> Int {
        let remaining = bytes.count - offset
        guard segment.size <= UInt64(remaining), (Int(segment.size) + 3) & ~3 <= remaining else {
            throw CheckpointProblem.malformedImage(
                image: image, offset: offset,
                reason: "segment \(segment.id) has \(segment.size) bytes of contents but only \(remaining) follow")
        }
        return (Int(segment.size) + 3) & ~3
    }

    /// One `ipc_shm_entry`.
    private static func shmSegment(_ reader: ProtobufReader, at offset: Int) throws -> CRIUShmSegment {
        var reader = reader
        var desc: [UInt64: UInt32]?
        var size: UInt64?
        var inPagemaps = false
        while let (number, value) = try reader.nextField() {
            switch number {
            case 1: desc = try descriptor(reader.nested(reader.bytesRange(value, field: number)))
            case 2: size = try reader.varint(value, field: number)
            case 3: inPagemaps = try reader.varint(value, field: number) != 0
            default: continue
            }
        }
        guard let desc, let key = desc[1], let mode = desc[6], let id = desc[7], let size else {
            throw reader.malformed(at: offset, "ipc_shm_entry lacks a required field (desc key/mode/id, size)")
        }
        return CRIUShmSegment(id: id, key: key, mode: mode, size: size, inPagemaps: inPagemaps)
    }

    /// The `uint32` fields of an `ipc_desc_entry`, by number.
    private static func descriptor(_ reader: ProtobufReader) throws -> [UInt64: UInt32] {
        var reader = reader
        var fields: [UInt64: UInt32] = [:]
        while let (number, value) = try reader.nextField() {
            guard (1...7).contains(number) else { continue }
            fields[number] = try reader.uint32(value, field: number)
        }
        return fields
    }
}
