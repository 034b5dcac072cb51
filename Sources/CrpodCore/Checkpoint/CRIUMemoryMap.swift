extension CRIUMagic {
    public static let mm: UInt32 = 0x5749_2820
}

/// The System V shared memory segments a task has attached, from its `mm-<pid>.img`
/// (`mm_entry`, images/mm.proto: `repeated vma_entry vmas = 14`; `vma_entry`: `shmid = 4`,
/// `status = 7`, a SysV mapping having `VMA_AREA_SYSVIPC` (1 << 10) in its status).
///
/// Why a pod restore needs it: CRIU maps an attached segment only if the same restore
/// collected it from `ipcns-shm-N.img` and created it (`prepare_ipc_shm_seg`: shmget with
/// IPC_CREAT | IPC_EXCL at the old id), so of the members restored one by one into one IPC
/// namespace, only one can bring segments back and map them (see `PodRestorePlanner`); the
/// others' mappings are attached again by crpod (`removingSysVMappings`, `SysVReattach`).
public enum CRIUMemoryMap {
    static let sysvIPCStatus: UInt64 = 1 << 10

    public static func sysvShmIDs(_ bytes: [UInt8], image: String = "mm.img") throws -> Set<UInt64> {
        let start = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.mm)
        var ids: Set<UInt64> = []
        for entry in try CRIUImage.entries(bytes, from: start, image: image) {
            var reader = entry
            while let (number, value) = try reader.nextField() {
                guard number == 14 else { continue }
                let vma = try vmaVarints(reader.nested(reader.bytesRange(value, field: number)), [4, 7])
                if (vma[7] ?? 0) & sysvIPCStatus != 0 { ids.insert(vma[4] ?? 0) }
            }
        }
        return ids
    }

    /// The varint fields `numbers` of one `vma_entry` (start 1, end 2, shmid 4, prot 5,
    /// status 7); other fields are skipped whatever their wire type.
    static func vmaVarints(_ vma: ProtobufReader, _ numbers: Set<UInt64>) throws -> [UInt64: UInt64] {
        var vma = vma
        var fields: [UInt64: UInt64] = [:]
        while let (field, item) = try vma.nextField() {
            if numbers.contains(field) { fields[field] = try vma.varint(item, field: field) }
        }
        return fields
    }
}
