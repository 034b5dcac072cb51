/// System call numbers of one ABI by name. Seccomp profiles name syscalls; filters see numbers.
public struct SyscallTable: Sendable {
    /// Names indexed by number; "" for an unassigned number.
    public let names: [String]
    /// The `seccomp_data.arch` of this ABI (AUDIT_ARCH_*).
    public let auditArch: UInt32
    /// name → number.
    public let numbers: [String: Int]

    init(names: [String], auditArch: UInt32) {
        self.names = names
        self.auditArch = auditArch
        numbers = Dictionary(names.enumerated().compactMap { index, name in name.isEmpty ? nil : (name, index) }, uniquingKeysWith: { first, _ in first })
    }

    /// The name of syscall `number`, or nil for an unassigned number.
    public func name(of number: Int) -> String? {
        names.indices.contains(number) && !names[number].isEmpty ? names[number] : nil
    }

    /// x86_64 (`asm/unistd_64.h` up to 450, then 451-469 from the Linux 6.17 table).
    public static let x86_64 = SyscallTable(names: x86_64Names, auditArch: 0xC000_003E)
    /// i386, which a 64-bit process reaches with `int 0x80` (`asm/unistd_32.h` up to 450; from
    /// 424 on every ABI shares its numbers, so 451-469 are the same as x86_64's).
    public static let i386 = SyscallTable(names: i386Names, auditArch: 0x4000_0003)
}
