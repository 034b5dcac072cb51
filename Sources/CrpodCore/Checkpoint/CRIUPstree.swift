/// One task of a checkpointed process tree: a `pstree_entry` (images/pstree.proto:
/// `required uint32 pid = 1, ppid = 2, pgid = 3, sid = 4; repeated uint32 threads = 5`).
/// IDs are as seen in the checkpointed PID namespace. `ppid` is 0 for the root task; `pgid`
/// and `sid` are 0 when the group or session lies outside that namespace.
public struct PstreeEntry: Sendable, Equatable, Codable {
    public var pid: Int32
    public var ppid: Int32
    public var pgid: Int32
    public var sid: Int32
    /// Thread IDs; CRIU writes the leader (== `pid`) first.
    public var threads: [Int32]

    public init(pid: Int32, ppid: Int32, pgid: Int32, sid: Int32, threads: [Int32]) {
        self.pid = pid
        self.ppid = ppid
        self.pgid = pgid
        self.sid = sid
        self.threads = threads
    }
}

/// The decoded `pstree.img`: the common and pstree magics, then one length-prefixed
/// `pstree_entry` per task, in the order CRIU walked the tree (root first).
public struct CRIUPstree: Sendable, Equatable, Codable {
    /// The member name, for error messages.
    public static let imageName = "checkpoint/pstree.img"

    public var entries: [PstreeEntry]

    public init(entries: [PstreeEntry]) {
        self.entries = entries
    }

    /// Every PID that must be free in a target PID namespace for CRIU to restore this tree,
    /// sorted: each task's pid and thread ids, plus every non-zero pgid and sid.
    ///
    /// Process groups and sessions count because CRIU recreates them with the same ids
    /// (criu/pstree.c): `read_one_pstree_item` enters each pgid and sid into its PID tree, and
    /// `prepare_pstree_ids` forks a helper task for a group or session whose leader is not a
    /// task in the image — a missing group leader gets a helper with PID = pgid, a dead
    /// session leader one with PID = sid. Forking with a chosen PID fails when it is taken
    /// (`cr-restore.c: Can't fork for N: File exists`), for tasks and helpers alike.
    ///
    /// Deliberately left out, since nothing is forked with them:
    /// - a pgid or sid of 0: the group or session is outside the namespace (CRIU skips 0);
    /// - the extra helper CRIU adds for a session whose leader *is* in the tree but is not
    ///   the root task's session: it takes the first free PID above 300 at restore time,
    ///   which an image cannot predict (`get_free_pid`).
    /// One case is counted although CRIU may not need it: a pgid equal to CRIU's own process
    /// group is inherited rather than recreated. That cannot happen when restoring into a
    /// pod's PID namespace, where CRIU's own group is outside; counting it at worst reports a
    /// conflict that would not have occurred.
    public var allPIDs: [Int32] {
        var ids = Set<Int32>()
        for entry in entries {
            ids.insert(entry.pid)
            ids.formUnion(entry.threads)
            if entry.pgid != 0 { ids.insert(entry.pgid) }
            if entry.sid != 0 { ids.insert(entry.sid) }
        }
        return ids.sorted()
    }

    /// The non-zero pgids and sids that no task in the image owns, sorted: the ids CRIU
    /// gives to helper tasks (see `allPIDs`). Empty for an ordinary container, whose init
    /// is its own session and group leader.
    public var helperPIDs: [Int32] {
        let owned = Set(entries.flatMap { [$0.pid] + $0.threads })
        let referenced = entries.flatMap { [$0.pgid, $0.sid] }.filter { $0 != 0 }
        return Set(referenced).subtracting(owned).sorted()
    }

    /// The root task (`ppid` 0), or nil when the image has none.
    public var root: PstreeEntry? {
        entries.first { $0.ppid == 0 }
    }

    /// Decodes `pstree.img`. Unknown fields are skipped; a missing required field, a value
    /// that is not a valid PID, a truncated entry or an image without entries is an error.
    public static func decode(_ bytes: [UInt8], image: String = imageName) throws -> CRIUPstree {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.pstree)
        let readers = try CRIUImage.entries(bytes, from: start, image: image)
        guard !readers.isEmpty else {
            throw CheckpointProblem.malformedImage(image: image, offset: start, reason: "no pstree_entry (an empty process tree)")
        }
        return CRIUPstree(entries: try readers.map(entry))
    }

    /// One `pstree_entry`.
    private static func entry(_ reader: ProtobufReader) throws -> PstreeEntry {
        var reader = reader
        let start = reader.offset
        var scalars: [UInt64: Int32] = [:]
        var threads: [Int32] = []
        while let (number, value) = try reader.nextField() {
            switch number {
            case 1...4: scalars[number] = try reader.pid(value, field: number)
            // Thread ids that cannot be PIDs are skipped, not refused: CRIU 4.2.1 writes an
            // uninitialised one for a zombie (seen here), and a task CRIU could never create
            // carries no privilege; the tasks that run are checked through their core images.
            case 5: threads += try reader.pidsSkippingInvalid(value, field: number)
            default: continue
            }
        }
        guard let pid = scalars[1], let ppid = scalars[2], let pgid = scalars[3], let sid = scalars[4] else {
            let missing = zip(1...4, ["pid", "ppid", "pgid", "sid"]).filter { scalars[UInt64($0.0)] == nil }.map(\.1)
            throw reader.malformed(at: start, "pstree_entry lacks required \(missing.joined(separator: ", "))")
        }
        return PstreeEntry(pid: pid, ppid: ppid, pgid: pgid, sid: sid, threads: threads)
    }
}
