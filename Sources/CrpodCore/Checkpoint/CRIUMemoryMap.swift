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
                var vma = try reader.nested(reader.bytesRange(value, field: number))
                var shmid: UInt64 = 0
                var status: UInt64 = 0
                while let (field, item) = try vma.nextField() {
                    if field == 4 { shmid = try vma.varint(item, field: field) }
                    if field == 7 { status = try vma.varint(item, field: field) }
                }
                if status & sysvIPCStatus != 0 { ids.insert(shmid) }
            }
        }
        return ids
    }
}
