extension CRIUMagic {
    /// `FILES_MAGIC`: `files.img`, every open file of the dump (CRIU ≥ 3.x; older images
    /// kept regular files in `reg-files.img` instead).
    public static let files: UInt32 = 0x5630_3138
}

/// What crpod reads from CRIU's `files.img`: the common and files magics, then one
/// length-prefixed `file_entry` per file (images/fdinfo.proto):
/// `required fd_types type = 1; required uint32 id = 2; optional reg_file_entry reg = 3; …`
/// with `reg_file_entry` (images/regfile.proto) `required uint32 id = 1; … required string
/// name = 6; optional sint32 mnt_id = 7; optional uint64 size = 8; optional bool ext = 9;
/// optional uint32 mode = 10; …`.
public enum CRIUFiles {
    /// The member name, for error messages.
    public static let imageName = "checkpoint/files.img"

    /// `fd_types.REG`.
    static let regularType: UInt64 = 1

    /// The `st_mode` CRIU recorded for the root directory of the dumped tasks (e.g. `0o40555`),
    /// or nil when no regular-file entry names it or none has a mode.
    ///
    /// CRIU dumps a task's root and cwd as `REG` entries and stores the root as `/`; at restore
    /// `collect_one_regfile` (criu/files-reg.c) turns `/` into the relative path `.`, opens it
    /// and fails with `File . has bad mode 040700 (expect 040555)` when the current mode differs
    /// from `mode`. crpod sets the restored root to this mode before restoring. `.` is accepted
    /// too, although CRIU does not write it. The first root entry with a mode wins (the tasks
    /// of one container share their root, so all such entries agree).
    ///
    /// Malformed framing or protobuf throws `CheckpointProblem`; unknown fields and entries of
    /// other types are skipped without being decoded.
    public static func rootDirectoryMode(_ filesImage: [UInt8], image: String = imageName) throws -> UInt32? {
        let start = try CRIUImage.payloadStart(filesImage, image: image, head: CRIUMagic.common, magic: CRIUMagic.files)
        for entry in try CRIUImage.entries(filesImage, from: start, image: image) {
            guard let reg = try nestedEntry(entry, type: regularType, field: 3) else { continue }
            if let mode = try rootMode(reg) { return mode }
        }
        return nil
    }

    /// `mode` of a `reg_file_entry` named `/` (or `.`), or nil for another name or no mode.
    private static func rootMode(_ reg: ProtobufReader) throws -> UInt32? {
        var reader = reg
        var isRoot = false
        var mode: UInt32?
        while let (number, value) = try reader.nextField() {
            switch number {
            case 6:
                let name = reader.bytes[try reader.bytesRange(value, field: number)]
                isRoot = name.elementsEqual([0x2F]) || name.elementsEqual([0x2E])
            case 10: mode = try reader.uint32(value, field: number)
            default: continue
            }
        }
        return isRoot ? mode : nil
    }
}
