import Testing
@testable import CrpodCore

/// The cgroup v2 device filter: the same instructions runc 1.1.5 emits, and — run through a
/// small interpreter — the decisions a devices cgroup with that policy makes.
@Suite("device filter: runc's eBPF program and what it allows")
struct DeviceFilterProgramTests {
    typealias Request = DeviceFilterInterpreter.Request

    static let loads = ["LdXMemW dst: r2 src: r1 off: 0 imm: 0", "And32Imm dst: r2 imm: 65535", "LdXMemW dst: r3 src: r1 off: 0 imm: 0",
                        "RSh32Imm dst: r3 imm: 16", "LdXMemW dst: r4 src: r1 off: 4 imm: 0", "LdXMemW dst: r5 src: r1 off: 8 imm: 0"]

    /// runc's devicefilter_test.go TestDeviceFilter_BuiltInAllowList, with the jump offsets
    /// resolved (cilium prints -1 and a label).
    static let builtInAllowList = loads + [
        "JNEImm dst: r2 off: 5 imm: 1", "Mov32Reg dst: r1 src: r3", "And32Imm dst: r1 imm: 1", "JNEReg dst: r1 off: 2 src: r3", "Mov32Imm dst: r0 imm: 1", "Exit",
        "JNEImm dst: r2 off: 5 imm: 2", "Mov32Reg dst: r1 src: r3", "And32Imm dst: r1 imm: 1", "JNEReg dst: r1 off: 2 src: r3", "Mov32Imm dst: r0 imm: 1", "Exit",
    ] + [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2), (10, 200)].flatMap { major, minor in
        ["JNEImm dst: r2 off: 4 imm: 2", "JNEImm dst: r4 off: 3 imm: \(major)", "JNEImm dst: r5 off: 2 imm: \(minor)", "Mov32Imm dst: r0 imm: 1", "Exit"]
    } + ["JNEImm dst: r2 off: 3 imm: 2", "JNEImm dst: r4 off: 2 imm: 136", "Mov32Imm dst: r0 imm: 1", "Exit", "Mov32Imm dst: r0 imm: 0", "Exit"]

    @Test func emitsRuncsProgramForTheBuiltInAllowList() throws {
        let state = try DeviceCgroupState(rules: DevicePolicy.runcBuiltIn.map(\.rule))
        #expect(DeviceFilterProgram.instructions(for: state).map(\.description) == Self.builtInAllowList)
        #expect(try DeviceCgroupState(rules: DevicePolicy.runcRules(for: DevicePolicyTests.crpodSpec())) == state,
                "crpod's deny-all spec gives the same state as the built-in list alone")
        #expect(DeviceFilterProgram.instructions(for: DeviceCgroupState()).map(\.description) == Self.loads + ["Mov32Imm dst: r0 imm: 0", "Exit"],
                "runc's TestDeviceFilter_Nil")
        #expect(DeviceFilterProgram.license == "Apache")
    }

    @Test func encodesStructBpfInsnLittleEndian() {
        let program = DeviceFilterProgram.instructions(for: DeviceCgroupState(defaultAllow: true))
        #expect(program[0].word == 0x0000_0000_0000_1261, "ldxw r2, [r1+0]: dst in the low nibble")
        #expect(program[1].word == 0x0000_FFFF_0000_0254)
        #expect(program[4].word == 0x0000_0000_0004_1461, "off 4 in bytes 2-3")
        #expect(program[6].word == 0x0000_0001_0000_00B4, "mov32 r0, 1")
        #expect(program[7].word == 0x95)
        #expect(EBPFInstruction(opcode: 0x5D, destination: 1, source: 3, offset: 2).word == 0x0000_0000_0002_315D)
        #expect(EBPFInstruction(opcode: 0x55, destination: 2, offset: -1, immediate: -2).word == 0xFFFF_FFFE_FFFF_0255)
    }

    /// crpod's spec (deny all + runc's built-in devices): (request, allowed).
    static let crpodTable: [(Request, Bool)] = [
        (Request(type: .char, major: 1, minor: 3, access: [.read, .write]), true),  // /dev/null
        (Request(type: .char, major: 1, minor: 9, access: .read), true),  // /dev/urandom
        (Request(type: .char, major: 5, minor: 2, access: [.read, .write]), true),  // /dev/ptmx
        (Request(type: .char, major: 136, minor: 7, access: .write), true),  // /dev/pts/7
        (Request(type: .char, major: 10, minor: 200, access: [.read, .write]), true),  // tun
        (Request(type: .char, major: 1, minor: 1, access: .read), false),  // /dev/mem
        (Request(type: .char, major: 1, minor: 11, access: .write), false),  // /dev/kmsg
        (Request(type: .char, major: 10, minor: 201, access: .read), false),
        (Request(type: .char, major: 4, minor: 0, access: .read), false),  // tty0
        (Request(type: .char, major: 3, minor: 1, access: .read), false),  // type c, not the block 3:1 of a rule
        (Request(type: .block, major: 7, minor: 0, access: .read), false),  // loop0
        (Request(type: .block, major: 1, minor: 3, access: .read), false),  // block with null's numbers
        (Request(type: .block, major: 8, minor: 0, access: .mknod), true),  // b *:* m
        (Request(type: .char, major: 1, minor: 1, access: .mknod), true),  // c *:* m
        (Request(type: .char, major: 0xFFFF_FFFF, minor: 3, access: .mknod), true),
    ]

    @Test func crpodsPolicyAllowsRuncsDevicesAndDeniesTheRest() throws {
        let state = try DeviceCgroupState(rules: DevicePolicy.runcRules(for: DevicePolicyTests.crpodSpec()))
        let program = DeviceFilterProgram.instructions(for: state)
        for (request, allowed) in Self.crpodTable {
            #expect(try DeviceFilterInterpreter.run(program, request) == (allowed ? 1 : 0), "\(request)")
        }
    }

    /// Policies of every shape — deny-all and allow-all, wildcards on each number, partial
    /// access — checked against the rule of the devices cgroup: an exception applies when its
    /// type and numbers match and it covers the whole requested access.
    static let policies: [[DeviceRule]] = [
        [],
        [DeviceRule(type: .all, access: .rwm, allow: true)],
        [DeviceRule(type: .char, major: 4, access: .read, allow: true), DeviceRule(type: .block, minor: 2, access: [.write, .mknod], allow: true)],
        [DeviceRule(type: .all, access: .rwm, allow: true), DeviceRule(type: .char, major: 1, minor: 1, access: [.read, .write], allow: false),
         DeviceRule(type: .block, access: .mknod, allow: false)],
        [DeviceRule(type: .char, major: 1, minor: 2, access: .read, allow: true), DeviceRule(type: .char, major: 1, minor: 2, access: .write, allow: true),
         DeviceRule(type: .char, minor: 0, access: .rwm, allow: true)],
    ] + [DevicePolicy.runcBuiltIn.map(\.rule)]

    static func expected(_ state: DeviceCgroupState, _ request: Request) -> Bool {
        let matches = state.exceptions.contains { match, access in
            match.type == request.type && (match.major.map { $0 == Int64(request.major) } ?? true)
                && (match.minor.map { $0 == Int64(request.minor) } ?? true) && access.isSuperset(of: request.access)
        }
        return matches != state.defaultAllow
    }

    @Test(arguments: policies.indices)
    func everyRequestIsDecidedAsTheCgroupRuleSays(policy: Int) throws {
        let state = try DeviceCgroupState(rules: Self.policies[policy])
        let program = DeviceFilterProgram.instructions(for: state)
        let accesses: [DeviceAccess] = [.read, .write, .mknod, [.read, .write], .rwm]
        for type in [DeviceType.char, .block] {
            for major: UInt32 in [0, 1, 4, 136] {
                for minor: UInt32 in [0, 1, 2, 3] {
                    for access in accesses {
                        let request = Request(type: type, major: major, minor: minor, access: access)
                        #expect(try DeviceFilterInterpreter.run(program, request) == (Self.expected(state, request) ? 1 : 0), "policy \(policy): \(request)")
                    }
                }
            }
        }
    }
}
