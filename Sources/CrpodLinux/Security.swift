import CShims

/// Effective capabilities of this process (libcap).
public enum Capabilities {
    public struct Known: Sendable, Equatable {
        public let name: String
        public let value: Int32
    }

    public static let sysAdmin = Known(name: "CAP_SYS_ADMIN", value: crpod_cap_sys_admin)
    public static let sysPtrace = Known(name: "CAP_SYS_PTRACE", value: crpod_cap_sys_ptrace)
    public static let checkpointRestore = Known(name: "CAP_CHECKPOINT_RESTORE", value: crpod_cap_checkpoint_restore)
    public static let sysResource = Known(name: "CAP_SYS_RESOURCE", value: crpod_cap_sys_resource)

    public static func isEffective(_ capability: Known) throws(LinuxError) -> Bool {
        try shimCall("cap_get_flag \(capability.name)") { crpod_cap_effective(capability.value) } == 1
    }
}

/// SELinux state and labels (libselinux). When SELinux is off, labels are nil.
public enum SELinux {
    public static var isEnabled: Bool { crpod_selinux_enabled() == 1 }

    public static func processLabel(pid: Int32) throws(LinuxError) -> String? {
        guard isEnabled else { return nil }
        return try label("getpidcon", path: "/proc/\(pid)") { crpod_getpidcon(pid, $0, $1) }
    }

    public static func fileLabel(path: String) throws(LinuxError) -> String? {
        guard isEnabled else { return nil }
        return try label("getfilecon", path: path) { crpod_getfilecon(path, $0, $1) }
    }

    private static func label(
        _ operation: String, path: String, _ call: (UnsafeMutablePointer<CChar>, Int) -> Int32
    ) throws(LinuxError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = try shimCall(operation, path: path) { buffer.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) } }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
