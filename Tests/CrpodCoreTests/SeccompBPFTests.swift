import Testing
@testable import CrpodCore

@Suite("seccomp cBPF interpreter and the x86_64 syscall table")
struct SeccompBPFTests {
    static func ret(_ value: UInt32) -> BPFInstruction { BPFInstruction(code: 0x06, k: value) }

    @Test func syscallNumbersMatchTheKernelTable() {
        let expected = ["read": 0, "mount": 165, "init_module": 175, "kexec_load": 246, "openat2": 437, "set_mempolicy_home_node": 450,
                        "cachestat": 451, "mseal": 462, "file_setattr": 469]
        for (name, number) in expected { #expect(SyscallTable.x86_64.numbers[name] == number, "\(name)") }
        #expect(SyscallTable.x86_64.name(of: 400) == nil, "the unassigned gap")
    }

    @Test func checksArchitectureAndNumber() throws {
        // if arch != x86_64 kill; if nr == 165 errno; allow.
        let program = [
            BPFInstruction(code: 0x20, k: 4), BPFInstruction(code: 0x15, jt: 1, jf: 0, k: SeccompBPF.auditArchX86_64), Self.ret(SeccompBPF.retKillProcess),
            BPFInstruction(code: 0x20, k: 0), BPFInstruction(code: 0x15, jt: 0, jf: 1, k: 165), Self.ret(0x0005_0001), Self.ret(SeccompBPF.retAllow),
        ]
        #expect(try SeccompBPF.run(program, on: .init(nr: 165)) == 0x0005_0001)
        #expect(try SeccompBPF.run(program, on: .init(nr: 0)) == SeccompBPF.retAllow)
        #expect(try SeccompBPF.run(program, on: .init(nr: 0, arch: 0x4000_0003)) == SeccompBPF.retKillProcess)
    }

    @Test func aChainTakesItsMostRestrictiveResult() throws {
        let allow = [Self.ret(SeccompBPF.retAllow)]
        let log = [Self.ret(SeccompBPF.retLog)]
        let errno = [Self.ret(0x0005_0001)]
        let kill = [Self.ret(SeccompBPF.retKillProcess)]
        #expect(try SeccompBPF.run(chain: [allow, log], on: .init(nr: 1)) == SeccompBPF.retLog)
        #expect(try SeccompBPF.run(chain: [allow, errno, log], on: .init(nr: 1)) == 0x0005_0001)
        #expect(try SeccompBPF.run(chain: [errno, kill], on: .init(nr: 1)) == SeccompBPF.retKillProcess)
        #expect(SeccompBPF.allows(SeccompBPF.retLog) && !SeccompBPF.allows(0x0005_0001))
    }

    @Test func runsArithmeticScratchMemoryAndTax() throws {
        // A = nr; A += 5; M[3] = A; X = 0; A = M[3]; X = A; A = X; ret A
        let program = [
            BPFInstruction(code: 0x20, k: 0), BPFInstruction(code: 0x04, k: 5), BPFInstruction(code: 0x02, k: 3),
            BPFInstruction(code: 0x01, k: 0), BPFInstruction(code: 0x60, k: 3), BPFInstruction(code: 0x07), BPFInstruction(code: 0x87),
            BPFInstruction(code: 0x16),
        ]
        #expect(try SeccompBPF.run(program, on: .init(nr: 37)) == 42)
    }

    @Test("programs the kernel would refuse are refused, never guessed", arguments: [
        [BPFInstruction(code: 0x20, k: 64), ret(0)],
        [BPFInstruction(code: 0x20, k: 2), ret(0)],
        [BPFInstruction(code: 0x05, k: 5), ret(0)],
        [BPFInstruction(code: 0x15, jt: 9, jf: 0, k: 0), ret(0)],
        [BPFInstruction(code: 0x34, k: 0), ret(0)],
        [BPFInstruction(code: 0x02, k: 16), ret(0)],
        [BPFInstruction(code: 0x20, k: 0)],
        [BPFInstruction(code: 0xFFFF)],
        [],
    ])
    func refusesInvalidPrograms(_ program: [BPFInstruction]) {
        #expect(throws: SeccompBPF.Invalid.self) { try SeccompBPF.run(program, on: .init(nr: 0)) }
    }
}
