/// One eBPF instruction (`struct bpf_insn`): opcode, destination and source registers, a
/// signed jump offset and a signed immediate.
public struct EBPFInstruction: Sendable, Equatable, CustomStringConvertible {
    public var opcode: UInt8
    public var destination: UInt8
    public var source: UInt8
    public var offset: Int16
    public var immediate: Int32

    public init(opcode: UInt8, destination: UInt8 = 0, source: UInt8 = 0, offset: Int16 = 0, immediate: Int32 = 0) {
        self.opcode = opcode
        self.destination = destination
        self.source = source
        self.offset = offset
        self.immediate = immediate
    }

    /// The eight bytes of `struct bpf_insn` read as one little-endian word (x86-64, arm64):
    /// opcode, then dst_reg in the low nibble and src_reg in the high one, offset, immediate.
    public var word: UInt64 {
        UInt64(opcode) | UInt64((destination & 0xF) | (source << 4)) << 8
            | UInt64(UInt16(bitPattern: offset)) << 16 | UInt64(UInt32(bitPattern: immediate)) << 32
    }

    /// The opcodes the device filter uses (class | operation | source bits).
    public enum Opcode {
        /// BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
        public static let loadWord: UInt8 = 0x61
        /// BPF_ALU | BPF_AND | BPF_K: dst = (u32)dst & imm
        public static let and32Immediate: UInt8 = 0x54
        /// BPF_ALU | BPF_RSH | BPF_K: dst = (u32)dst >> imm
        public static let shiftRight32Immediate: UInt8 = 0x74
        /// BPF_ALU | BPF_MOV | BPF_X: dst = (u32)src
        public static let move32Register: UInt8 = 0xBC
        /// BPF_ALU | BPF_MOV | BPF_K: dst = (u32)imm
        public static let move32Immediate: UInt8 = 0xB4
        /// BPF_JMP | BPF_JNE | BPF_K: if dst != (s64)imm goto pc + 1 + off
        public static let jumpNotEqualImmediate: UInt8 = 0x55
        /// BPF_JMP | BPF_JNE | BPF_X: if dst != src goto pc + 1 + off
        public static let jumpNotEqualRegister: UInt8 = 0x5D
        /// BPF_JMP | BPF_EXIT: return r0
        public static let exit: UInt8 = 0x95
    }

    /// cilium/ebpf's spelling (runc's devicefilter tests print programs this way).
    public var description: String {
        let (dst, src) = ("dst: r\(destination)", "src: r\(source)")
        switch opcode {
        case Opcode.loadWord: return "LdXMemW \(dst) \(src) off: \(offset) imm: \(immediate)"
        case Opcode.and32Immediate: return "And32Imm \(dst) imm: \(immediate)"
        case Opcode.shiftRight32Immediate: return "RSh32Imm \(dst) imm: \(immediate)"
        case Opcode.move32Register: return "Mov32Reg \(dst) \(src)"
        case Opcode.move32Immediate: return "Mov32Imm \(dst) imm: \(immediate)"
        case Opcode.jumpNotEqualImmediate: return "JNEImm \(dst) off: \(offset) imm: \(immediate)"
        case Opcode.jumpNotEqualRegister: return "JNEReg \(dst) off: \(offset) \(src)"
        case Opcode.exit: return "Exit"
        default: return "op 0x\(String(opcode, radix: 16)) \(dst) \(src) off: \(offset) imm: \(immediate)"
        }
    }
}

/// The cgroup v2 device filter runc 1.1.5 loads (libcontainer/cgroups/ebpf/devicefilter,
/// after crun's ebpf.c), as a `BPF_PROG_TYPE_CGROUP_DEVICE` program: it reads
/// `struct bpf_cgroup_dev_ctx` (access_type: type in the low 16 bits, access in the high 16;
/// major; minor), tests the state's exceptions in runc's order — the first one that matches the
/// type, covers every requested access and matches the numbers returns the exception's action
/// (1 allow, 0 deny) — and otherwise returns the default.
public enum DeviceFilterProgram {
    /// The license string runc loads the program with.
    public static let license = "Apache"

    /// `bpf_cgroup_dev_ctx` values (include/uapi/linux/bpf.h).
    public enum Context {
        public static let typeBlock: Int32 = 1  // BPF_DEVCG_DEV_BLOCK
        public static let typeChar: Int32 = 2  // BPF_DEVCG_DEV_CHAR
        public static let accessMknod: Int32 = 1  // BPF_DEVCG_ACC_MKNOD
        public static let accessRead: Int32 = 2  // BPF_DEVCG_ACC_READ
        public static let accessWrite: Int32 = 4  // BPF_DEVCG_ACC_WRITE
    }

    public static func instructions(for state: DeviceCgroupState) -> [EBPFInstruction] {
        var program = loadContext
        for rule in state.exceptionRules { program += block(for: rule) }
        return program + verdict(state.defaultAllow)
    }

    /// r2 = type, r3 = access, r4 = major, r5 = minor (r1 points at the context).
    static let loadContext: [EBPFInstruction] = [
        EBPFInstruction(opcode: EBPFInstruction.Opcode.loadWord, destination: 2, source: 1, offset: 0),
        EBPFInstruction(opcode: EBPFInstruction.Opcode.and32Immediate, destination: 2, immediate: 0xFFFF),
        EBPFInstruction(opcode: EBPFInstruction.Opcode.loadWord, destination: 3, source: 1, offset: 0),
        EBPFInstruction(opcode: EBPFInstruction.Opcode.shiftRight32Immediate, destination: 3, immediate: 16),
        EBPFInstruction(opcode: EBPFInstruction.Opcode.loadWord, destination: 4, source: 1, offset: 4),
        EBPFInstruction(opcode: EBPFInstruction.Opcode.loadWord, destination: 5, source: 1, offset: 8),
    ]

    /// r0 = allow ? 1 : 0; exit.
    static func verdict(_ allow: Bool) -> [EBPFInstruction] {
        [EBPFInstruction(opcode: EBPFInstruction.Opcode.move32Immediate, destination: 0, immediate: allow ? 1 : 0),
         EBPFInstruction(opcode: EBPFInstruction.Opcode.exit)]
    }

    /// Tests that skip to the next block on a mismatch, then the rule's verdict. The access
    /// test is left out for `rwm` (it always holds), a wildcard's number test likewise.
    static func block(for rule: DeviceRule) -> [EBPFInstruction] {
        typealias Op = EBPFInstruction.Opcode
        // Offsets are filled in below, once the block's length is known.
        var tests = [EBPFInstruction(opcode: Op.jumpNotEqualImmediate, destination: 2, immediate: rule.type == .block ? Context.typeBlock : Context.typeChar)]
        let access = contextAccess(rule.access)
        if rule.access != .rwm {
            tests += [
                EBPFInstruction(opcode: Op.move32Register, destination: 1, source: 3),
                EBPFInstruction(opcode: Op.and32Immediate, destination: 1, immediate: access),
                EBPFInstruction(opcode: Op.jumpNotEqualRegister, destination: 1, source: 3),
            ]
        }
        if let major = rule.major { tests.append(EBPFInstruction(opcode: Op.jumpNotEqualImmediate, destination: 4, immediate: Int32(truncatingIfNeeded: major))) }
        if let minor = rule.minor { tests.append(EBPFInstruction(opcode: Op.jumpNotEqualImmediate, destination: 5, immediate: Int32(truncatingIfNeeded: minor))) }
        var block = tests + verdict(rule.allow)
        for index in block.indices where block[index].opcode == Op.jumpNotEqualImmediate || block[index].opcode == Op.jumpNotEqualRegister {
            block[index].offset = Int16(block.count - index - 1)
        }
        return block
    }

    /// rwm letters → BPF_DEVCG_ACC_* bits.
    static func contextAccess(_ access: DeviceAccess) -> Int32 {
        (access.contains(.read) ? Context.accessRead : 0) | (access.contains(.write) ? Context.accessWrite : 0)
            | (access.contains(.mknod) ? Context.accessMknod : 0)
    }
}
