/// Linux capability numbers and names (include/uapi/linux/capability.h, up to CAP_CHECKPOINT_RESTORE).
public enum CapabilityNames {
    public static let names = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// The name of capability `number`; `CAP_<n>` for one this table does not know.
    public static func name(_ number: Int) -> String {
        names.indices.contains(number) ? names[number] : "CAP_\(number)"
    }

    /// The capability numbers set in a list of 32-bit words (word 0 holds 0...31).
    public static func numbers(inWords words: [UInt32]) -> [Int] {
        words.enumerated().flatMap { index, word in
            (0..<32).filter { word & (1 << UInt32($0)) != 0 }.map { index * 32 + $0 }
        }
    }

    /// The numbers of spec capability names (`CAP_SYS_ADMIN`); unknown names are left out.
    public static func numbers(named list: [String]) -> Set<Int> {
        Set(list.compactMap { names.firstIndex(of: $0.uppercased().hasPrefix("CAP_") ? $0.uppercased() : "CAP_" + $0.uppercased()) })
    }
}
