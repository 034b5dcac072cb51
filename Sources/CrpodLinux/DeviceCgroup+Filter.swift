#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodCore
import SystemPackage

/// cgroup v2: runc's eBPF device filter, loaded and attached to the cgroup's directory.
extension DeviceCgroup {
    /// Loads the filter, attaches it with BPF_F_ALLOW_MULTI, then detaches the device filters
    /// that were attached to this directory before (runc does the same, so applying twice
    /// leaves one filter). Both are attached for a moment, which only denies more. A program
    /// stays alive while attached; its fd is closed here. Unlike runc, RLIMIT_MEMLOCK is not
    /// raised: since Linux 5.11 BPF memory is charged to the memory cgroup instead.
    static func attachFilter(_ state: DeviceCgroupState, directory: String) throws(DeviceCgroupError) -> Applied {
        let instructions = DeviceFilterProgram.instructions(for: state)
        let dirFD: Int32
        let previous: [UInt32]
        do {
            dirFD = try sysCall("open cgroup directory", path: directory) { open(directory, O_DIRECTORY | O_RDONLY | O_CLOEXEC) }
        } catch { throw .system(error) }
        defer { close(dirFD) }
        do { previous = try attachedFilters(dirFD, directory: directory) } catch { throw .system(error) }
        let program = try load(instructions, directory: directory)
        defer { close(program) }
        do {
            try shimCall("bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)", path: directory) {
                crpod_bpf_attach_cgroup_device(dirFD, program, crpod_bpf_f_allow_multi)
            }
            let replaced = try detach(previous, from: dirFD, directory: directory)
            return .ebpf(directory: directory, instructions: instructions.count, replaced: replaced)
        } catch { throw .system(error) }
    }

    /// The ids of the device filters attached to the directory itself (not inherited ones).
    public static func attachedFilters(_ dirFD: Int32, directory: String) throws(LinuxError) -> [UInt32] {
        var capacity: UInt32 = 64
        for _ in 0..<10 {
            var ids = [UInt32](repeating: 0, count: Int(capacity))
            var count: UInt32 = 0
            let rc = ids.withUnsafeMutableBufferPointer { crpod_bpf_query_cgroup_device(dirFD, $0.baseAddress, capacity, &count) }
            if rc == -ENOSPC {
                capacity = max(count, capacity * 2)
                continue
            }
            try shimCall("bpf(BPF_PROG_QUERY, BPF_CGROUP_DEVICE)", path: directory) { rc }
            return Array(ids.prefix(Int(min(count, capacity))))
        }
        throw LinuxError.syscall(operation: "bpf(BPF_PROG_QUERY, BPF_CGROUP_DEVICE)", path: directory, errno: .noSpace)
    }

    /// A program fd; a verifier rejection carries the verifier's log.
    static func load(_ instructions: [EBPFInstruction], directory: String) throws(DeviceCgroupError) -> Int32 {
        let words = instructions.map(\.word)
        var log = [CChar](repeating: 0, count: 16 * 1024)
        let fd = words.withUnsafeBufferPointer { insns in
            log.withUnsafeMutableBufferPointer { buffer in
                crpod_bpf_load_cgroup_device(insns.baseAddress, UInt32(insns.count), DeviceFilterProgram.license, buffer.baseAddress, UInt32(buffer.count))
            }
        }
        guard fd < 0 else { return fd }
        let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.isEmpty {
            throw .system(.syscall(operation: "bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE)", path: directory, errno: Errno(rawValue: -fd)))
        }
        throw .filterRejected(directory: directory, errno: Errno(rawValue: -fd), verifierLog: String(text.suffix(1000)))
    }

    /// Detaches each program by id; one this process may not open (an LSM label, say) is left
    /// attached, as runc leaves it: another device filter can only deny more.
    static func detach(_ ids: [UInt32], from dirFD: Int32, directory: String) throws(LinuxError) -> Int {
        var detached = 0
        for id in ids {
            let fd = crpod_bpf_prog_fd_by_id(id)
            if fd == -EPERM || fd == -EACCES || fd == -ENOENT { continue }
            try shimCall("bpf(BPF_PROG_GET_FD_BY_ID) \(id)", path: directory) { fd }
            defer { close(fd) }
            try shimCall("bpf(BPF_PROG_DETACH, BPF_CGROUP_DEVICE) \(id)", path: directory) { crpod_bpf_detach_cgroup_device(dirFD, fd) }
            detached += 1
        }
        return detached
    }

    /// The 8-byte tags (hashes of the instructions) of the device filters attached to a cgroup
    /// directory, as hex — to compare a filter with the one runc attached for the same policy.
    public static func attachedFilterTags(directory: String) throws(LinuxError) -> [String] {
        let dirFD = try sysCall("open cgroup directory", path: directory) { open(directory, O_DIRECTORY | O_RDONLY | O_CLOEXEC) }
        defer { close(dirFD) }
        var tags: [String] = []
        for id in try attachedFilters(dirFD, directory: directory) {
            let fd = try shimCall("bpf(BPF_PROG_GET_FD_BY_ID) \(id)", path: directory) { crpod_bpf_prog_fd_by_id(id) }
            defer { close(fd) }
            var tag = [UInt8](repeating: 0, count: 8)
            try shimCall("bpf(BPF_OBJ_GET_INFO_BY_FD) \(id)", path: directory) { tag.withUnsafeMutableBufferPointer { crpod_bpf_prog_tag(fd, $0.baseAddress) } }
            tags.append(tag.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
        }
        return tags
    }
}
