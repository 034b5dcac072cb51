/// crpod's default seccomp profile: the facts of containers-common's `seccomp.json` (podman's
/// default; CRI-O and containerd apply the same shape), kept as a Swift table.
///
/// An unknown or unlisted syscall fails with ENOSYS (38), as in the reference: a C library then
/// falls back to an older call (glibc's clone3 → clone) where EPERM would be taken as final.
/// The syscalls in `refusedSyscalls` and the capability-gated ones fail with EPERM instead.
public enum DefaultSeccompProfile {
    public static let enosys: UInt64 = 38
    public static let eperm: UInt64 = 1
    public static let einval: UInt64 = 22

    public static let profile = SeccompProfile(
        defaultAction: SeccompAction.errno,
        defaultErrnoRet: enosys,
        architectureMap: architectureMap,
        rules: [
            SeccompRule(names: refusedSyscalls, action: SeccompAction.errno, errnoRet: eperm),
            SeccompRule(names: allowedSyscalls, action: SeccompAction.allow),
        ] + personalityRules + architectureRules + capabilityRules + auditSocketRules)

    /// docker's `archMap`: a native architecture and the ones its kernel also executes.
    static let architectureMap: [String: [String]] = [
        "SCMP_ARCH_X86_64": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "SCMP_ARCH_AARCH64": ["SCMP_ARCH_ARM"],
        "SCMP_ARCH_MIPS64": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
        "SCMP_ARCH_MIPS64N32": ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
        "SCMP_ARCH_MIPSEL64": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
        "SCMP_ARCH_MIPSEL64N32": ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
        "SCMP_ARCH_S390X": ["SCMP_ARCH_S390"],
    ]

    /// `personality` only with the personas programs really ask for: PER_LINUX (0),
    /// PER_LINUX32 (8), UNAME26 (0x20000), UNAME26|PER_LINUX32, and the query 0xffffffff.
    static let personalityRules = [UInt64(0), 8, 0x20000, 0x20008, 0xffff_ffff].map { persona in
        SeccompRule(names: ["personality"], action: SeccompAction.allow,
                    args: [SeccompArgument(index: 0, value: persona, op: "SCMP_CMP_EQ")])
    }

    /// Calls that exist (or are safe) only on some architectures.
    static let architectureRules = [
        SeccompRule(names: ["sync_file_range2", "swapcontext"], action: SeccompAction.allow, onlyOnArchitectures: ["ppc64le"]),
        SeccompRule(names: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
                    action: SeccompAction.allow, onlyOnArchitectures: ["arm", "arm64"]),
        SeccompRule(names: ["arch_prctl"], action: SeccompAction.allow, onlyOnArchitectures: ["amd64", "x32"]),
        SeccompRule(names: ["modify_ldt"], action: SeccompAction.allow, onlyOnArchitectures: ["amd64", "x32", "x86"]),
        SeccompRule(names: ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
                    action: SeccompAction.allow, onlyOnArchitectures: ["s390", "s390x"]),
        SeccompRule(names: ["riscv_flush_icache"], action: SeccompAction.allow, onlyOnArchitectures: ["riscv64"]),
    ]

    /// Capability → the syscalls it unlocks; without the capability they fail with EPERM.
    static let capabilityGates: [(capability: String, allowed: [String], refusedWithout: [String])] = [
        ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"], ["open_by_handle_at"]),
        ("CAP_SYS_ADMIN", ["bpf", "lookup_dcookie", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns"],
         ["lookup_dcookie", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns"]),
        ("CAP_SYS_CHROOT", ["chroot"], ["chroot"]),
        ("CAP_SYS_MODULE", ["delete_module", "finit_module", "init_module", "query_module"],
         ["delete_module", "finit_module", "init_module", "query_module"]),
        ("CAP_SYS_PACCT", ["acct"], ["acct"]),
        ("CAP_SYS_PTRACE", ["kcmp", "process_madvise"], ["kcmp", "process_madvise"]),
        ("CAP_SYS_RAWIO", ["ioperm", "iopl"], ["ioperm", "iopl"]),
        ("CAP_SYS_TIME", ["clock_settime", "clock_settime64", "settimeofday", "stime"],
         ["clock_settime", "clock_settime64", "settimeofday", "stime"]),
        ("CAP_SYS_TTY_CONFIG", ["vhangup"], ["vhangup"]),
    ]

    static let capabilityRules: [SeccompRule] = capabilityGates.flatMap { gate in
        [
            SeccompRule(names: gate.allowed, action: SeccompAction.allow, requiresCapabilities: [gate.capability]),
            SeccompRule(names: gate.refusedWithout, action: SeccompAction.errno, errnoRet: eperm,
                        unlessCapabilities: [gate.capability]),
        ]
    } + [
        // bpf and perf_event_open: CAP_SYS_ADMIN, or their own newer capabilities.
        SeccompRule(names: ["bpf"], action: SeccompAction.errno, errnoRet: eperm, unlessCapabilities: ["CAP_SYS_ADMIN", "CAP_BPF"]),
        SeccompRule(names: ["bpf"], action: SeccompAction.allow, requiresCapabilities: ["CAP_BPF"]),
        SeccompRule(names: ["perf_event_open"], action: SeccompAction.errno, errnoRet: eperm, unlessCapabilities: ["CAP_SYS_ADMIN", "CAP_BPF"]),
        SeccompRule(names: ["perf_event_open"], action: SeccompAction.allow, requiresCapabilities: ["CAP_PERFMON"]),
    ]

    /// `socket(AF_NETLINK, *, NETLINK_AUDIT)` needs CAP_AUDIT_WRITE (EINVAL without it, as if
    /// the kernel had no audit); every other socket is allowed.
    static let auditSocketRules: [SeccompRule] = {
        let afNetlink: UInt64 = 16, netlinkAudit: UInt64 = 9
        let auditWrite = ["CAP_AUDIT_WRITE"]
        return [
            SeccompRule(names: ["socket"], action: SeccompAction.errno, errnoRet: einval,
                        args: [SeccompArgument(index: 0, value: afNetlink, op: "SCMP_CMP_EQ"),
                               SeccompArgument(index: 2, value: netlinkAudit, op: "SCMP_CMP_EQ")],
                        unlessCapabilities: auditWrite),
            SeccompRule(names: ["socket"], action: SeccompAction.allow,
                        args: [SeccompArgument(index: 2, value: netlinkAudit, op: "SCMP_CMP_NE")], unlessCapabilities: auditWrite),
            SeccompRule(names: ["socket"], action: SeccompAction.allow,
                        args: [SeccompArgument(index: 0, value: afNetlink, op: "SCMP_CMP_NE")], unlessCapabilities: auditWrite),
            SeccompRule(names: ["socket"], action: SeccompAction.allow, requiresCapabilities: auditWrite),
        ]
    }()
}
