import Testing
@testable import CrpodCore

/// The names each resolved rule lists for `action` (with `errnoRet`, when given).
private func names(_ seccomp: JSONValue, action: String, errnoRet: Int64? = nil, withArgs: Bool = false) -> Set<String> {
    let rules = seccomp["syscalls"]?.arrayValue ?? []
    return Set(rules.filter { rule in
        rule["action"]?.stringValue == action && (errnoRet == nil || rule["errnoRet"]?.int64Value == errnoRet)
            && (rule["args"] != nil) == withArgs
    }.flatMap { $0["names"]?.stringArrayValue ?? [] })
}

private let runcDefaults = Set(SpecBuilder.defaultCapabilities)

@Suite("Default seccomp profile")
struct DefaultSeccompProfileTests {
    @Test func amd64WithRuncDefaultCapabilities() {
        let seccomp = DefaultSeccompProfile.profile.linuxSeccomp(capabilities: runcDefaults, architecture: "amd64")
        #expect(seccomp["defaultAction"] == "SCMP_ACT_ERRNO")
        #expect(seccomp["defaultErrnoRet"] == 38, "unlisted syscalls look missing (ENOSYS), as in containers-common")
        #expect(seccomp["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        let allowed = names(seccomp, action: SeccompAction.allow)
        for call in ["read", "write", "execve", "clone", "clone3", "mkdir", "nanosleep", "arch_prctl", "modify_ldt", "chroot", "socket"] {
            #expect(allowed.contains(call), "\(call) is allowed")
        }
        for call in ["set_tls", "s390_runtime_instr", "riscv_flush_icache", "open_by_handle_at", "sethostname", "init_module", "kcmp", "bpf"] {
            #expect(!allowed.contains(call), "\(call) is not allowed for this container on amd64")
        }
        let refused = names(seccomp, action: SeccompAction.errno, errnoRet: 1)
        for call in ["kexec_load", "userfaultfd", "open_by_handle_at", "sethostname", "init_module", "acct", "bpf", "perf_event_open", "settimeofday"] {
            #expect(refused.contains(call), "\(call) fails with EPERM")
        }
        #expect(!refused.contains("chroot"), "CAP_SYS_CHROOT is in runc's set, so chroot is allowed")
        #expect(names(seccomp, action: SeccompAction.errno, errnoRet: 22, withArgs: true).isEmpty, "CAP_AUDIT_WRITE: audit sockets allowed")
    }

    @Test(arguments: [
        ("CAP_SYS_CHROOT", ["chroot"]),
        ("CAP_SYS_ADMIN", ["sethostname", "setdomainname", "quotactl", "bpf"]),
        ("CAP_SYS_PTRACE", ["kcmp", "process_madvise"]),
        ("CAP_SYS_TIME", ["settimeofday", "clock_settime"]),
        ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]),
        ("CAP_BPF", ["bpf"]),
        ("CAP_PERFMON", ["perf_event_open"]),
    ])
    func capabilityUnlocksItsSyscalls(capability: String, calls: [String]) {
        let without = DefaultSeccompProfile.profile.linuxSeccomp(capabilities: [], architecture: "amd64")
        let with = DefaultSeccompProfile.profile.linuxSeccomp(capabilities: [capability], architecture: "amd64")
        for call in calls {
            #expect(!names(without, action: SeccompAction.allow).contains(call), "\(call) needs \(capability)")
            #expect(names(with, action: SeccompAction.allow).contains(call), "\(capability) allows \(call)")
        }
    }

    @Test func withoutAuditWriteNetlinkAuditSocketsFailWithEINVAL() {
        let seccomp = DefaultSeccompProfile.profile.linuxSeccomp(capabilities: [], architecture: "amd64")
        let rules = (seccomp["syscalls"]?.arrayValue ?? []).filter { $0["names"] == ["socket"] }
        #expect(rules.count == 3)
        #expect(rules.first { $0["errnoRet"] == 22 }?["args"] == [
            ["index": 0, "value": 16, "op": "SCMP_CMP_EQ"], ["index": 2, "value": 9, "op": "SCMP_CMP_EQ"],
        ])
        #expect(!names(seccomp, action: SeccompAction.allow).contains("socket"), "no unconditional socket rule")
    }

    @Test func arm64GetsItsArchitecturesAndCalls() {
        let seccomp = DefaultSeccompProfile.profile.linuxSeccomp(capabilities: runcDefaults, architecture: "arm64")
        #expect(seccomp["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        let allowed = names(seccomp, action: SeccompAction.allow)
        #expect(allowed.contains("set_tls") && allowed.contains("cacheflush"))
        #expect(!allowed.contains("arch_prctl") && !allowed.contains("modify_ldt"))
    }

    @Test func personalityOnlyWithKnownPersonas() {
        let seccomp = DefaultSeccompProfile.profile.linuxSeccomp(capabilities: runcDefaults, architecture: "amd64")
        let values = (seccomp["syscalls"]?.arrayValue ?? []).filter { $0["names"] == ["personality"] }.compactMap {
            $0["args"]?.arrayValue?.first?["value"]?.uint64Value
        }
        #expect(values == [0, 8, 0x20000, 0x20008, 0xffff_ffff])
    }

    @Test func tablesAreConsistent() {
        let allowed = DefaultSeccompProfile.allowedSyscalls, refused = DefaultSeccompProfile.refusedSyscalls
        #expect(Set(allowed).count == allowed.count, "no duplicate in the allow list")
        #expect(Set(allowed).isDisjoint(with: refused), "a syscall is either allowed or refused")
        #expect(allowed.count == 370 && refused.count == 35, "containers-common's counts")
        // containers-common lists setns both unconditionally and under CAP_SYS_ADMIN; nothing else overlaps.
        let gated = DefaultSeccompProfile.capabilityGates.flatMap(\.allowed)
        #expect(Set(allowed).intersection(gated) == ["setns"])
    }

    @Test func specBuilderAppliesTheDefaultAndHonoursUnconfined() throws {
        func build(_ seccomp: SeccompChoice) throws -> OCISpec {
            try SpecBuilder.build(ContainerSpecRequest(args: ["/bin/true"], rootfsPath: "/r", cgroupsPath: "/c", seccomp: seccomp))
        }
        let seccomp = try build(.defaultProfile).json.value(atPath: ["linux", "seccomp"])
        #expect(seccomp == DefaultSeccompProfile.profile.linuxSeccomp(capabilities: runcDefaults))
        #expect(try build(.unconfined).json.value(atPath: ["linux", "seccomp"]) == nil)
        let custom: JSONValue = ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_ERRNO"]]]
        #expect(try build(.profile(custom, source: "p.json")).json.value(atPath: ["linux", "seccomp"])
                == ["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_ERRNO"]]])
    }
}
