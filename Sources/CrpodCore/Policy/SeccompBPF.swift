/// A classic-BPF interpreter for seccomp programs, over `struct seccomp_data` (nr, arch,
/// instruction_pointer, args[6]: 64 bytes). It accepts what the kernel's `seccomp_check_filter`
/// accepts and refuses the rest, so a program it cannot run is one the kernel would not install.
public enum SeccompBPF {
    public static let auditArchX86_64: UInt32 = 0xC000_003E
    public static let retAllow: UInt32 = 0x7FFF_0000
    public static let retLog: UInt32 = 0x7FFC_0000
    public static let retKillProcess: UInt32 = 0x8000_0000
    static let actionMask: UInt32 = 0xFFFF_0000
    static let dataSize: UInt32 = 64
    static let maxInstructions = 4096

    /// Why a program cannot be run.
    public struct Invalid: Error, Equatable, Sendable {
        public var reason: String
    }

    /// The input a syscall gives the filter.
    public struct SyscallData: Sendable {
        public var nr: Int32
        public var arch: UInt32
        public var instructionPointer: UInt64 = 0
        public var args: [UInt64] = Array(repeating: 0, count: 6)

        public init(nr: Int32, arch: UInt32 = SeccompBPF.auditArchX86_64) {
            self.nr = nr
            self.arch = arch
        }

        /// The 32-bit word at byte `offset` (aligned, inside the 64 bytes), little-endian.
        func word(at offset: UInt32) -> UInt32 {
            switch offset {
            case 0: return UInt32(bitPattern: nr)
            case 4: return arch
            case 8: return UInt32(truncatingIfNeeded: instructionPointer)
            case 12: return UInt32(truncatingIfNeeded: instructionPointer >> 32)
            default:
                let arg = args[Int(offset - 16) / 8]
                return offset % 8 == 0 ? UInt32(truncatingIfNeeded: arg) : UInt32(truncatingIfNeeded: arg >> 32)
            }
        }
    }

    /// Whether a seccomp return value lets the syscall run (ALLOW, or LOG which allows and logs).
    public static func allows(_ action: UInt32) -> Bool {
        let only = action & actionMask
        return only == retAllow || only == retLog
    }

    /// The result of a chain of filters: the most restrictive of their results (the kernel
    /// compares the action parts as signed numbers, lowest wins). An empty chain allows.
    public static func run(chain: [[BPFInstruction]], on data: SyscallData) throws(Invalid) -> UInt32 {
        var result = retAllow
        for program in chain {
            let action = try run(program, on: data)
            if Int32(bitPattern: action & actionMask) < Int32(bitPattern: result & actionMask) { result = action }
        }
        return result
    }

    /// Runs one program. Jumps only go forward, so it ends within `program.count` steps.
    public static func run(_ program: [BPFInstruction], on data: SyscallData) throws(Invalid) -> UInt32 {
        guard !program.isEmpty, program.count <= maxInstructions else {
            throw Invalid(reason: "program of \(program.count) instructions (1...\(maxInstructions) allowed)")
        }
        var machine = Machine()
        var pc = 0
        while pc < program.count {
            let instruction = program[pc]
            pc += 1
            if let result = try machine.step(instruction, data: data, pc: &pc, count: program.count) { return result }
        }
        throw Invalid(reason: "program runs past its end without a return")
    }

    /// Registers and scratch memory of one run.
    struct Machine {
        var a: UInt32 = 0
        var x: UInt32 = 0
        var memory = [UInt32](repeating: 0, count: 16)

        /// Executes one instruction; the return value when it is a `ret`.
        mutating func step(_ op: BPFInstruction, data: SyscallData, pc: inout Int, count: Int) throws(Invalid) -> UInt32? {
            switch op.code & 0x07 {
            case 0x00: a = try load(op, data: data)
            case 0x01: x = try loadX(op)
            case 0x02: memory[try slot(op)] = a
            case 0x03: memory[try slot(op)] = x
            case 0x04: a = try alu(op)
            case 0x05: pc = try jump(op, pc: pc, count: count)
            case 0x06:
                switch op.code {
                case 0x06: return op.k
                case 0x16: return a
                default: throw Invalid(reason: "unsupported return 0x\(String(op.code, radix: 16))")
                }
            default:
                switch op.code {
                case 0x07: x = a
                case 0x87: a = x
                default: throw Invalid(reason: "unsupported misc instruction 0x\(String(op.code, radix: 16))")
                }
            }
            return nil
        }

        func slot(_ op: BPFInstruction) throws(Invalid) -> Int {
            guard op.k < 16 else { throw Invalid(reason: "scratch memory slot \(op.k) out of range") }
            return Int(op.k)
        }

        /// BPF_LD: W|ABS from seccomp_data, W|LEN, IMM, MEM (what seccomp permits).
        func load(_ op: BPFInstruction, data: SyscallData) throws(Invalid) -> UInt32 {
            switch op.code {
            case 0x20:
                guard op.k % 4 == 0, op.k < dataSize else { throw Invalid(reason: "load at offset \(op.k) outside seccomp_data") }
                return data.word(at: op.k)
            case 0x80: return dataSize
            case 0x00: return op.k
            case 0x60: return memory[try slot(op)]
            default: throw Invalid(reason: "unsupported load 0x\(String(op.code, radix: 16))")
            }
        }

        func loadX(_ op: BPFInstruction) throws(Invalid) -> UInt32 {
            switch op.code {
            case 0x81: return dataSize
            case 0x01: return op.k
            case 0x61: return memory[try slot(op)]
            default: throw Invalid(reason: "unsupported ldx 0x\(String(op.code, radix: 16))")
            }
        }

        func alu(_ op: BPFInstruction) throws(Invalid) -> UInt32 {
            let operand = op.code & 0x08 == 0 ? op.k : x
            switch op.code & 0xF0 {
            case 0x00: return a &+ operand
            case 0x10: return a &- operand
            case 0x20: return a &* operand
            case 0x30:
                guard operand != 0 else { throw Invalid(reason: "division by zero") }
                return a / operand
            case 0x40: return a | operand
            case 0x50: return a & operand
            case 0x60: return operand < 32 ? a << operand : 0
            case 0x70: return operand < 32 ? a >> operand : 0
            case 0x80: return 0 &- a
            case 0x90:
                guard operand != 0 else { throw Invalid(reason: "modulo by zero") }
                return a % operand
            case 0xA0: return a ^ operand
            default: throw Invalid(reason: "unsupported alu 0x\(String(op.code, radix: 16))")
            }
        }

        /// The next pc; every target must lie inside the program.
        func jump(_ op: BPFInstruction, pc: Int, count: Int) throws(Invalid) -> Int {
            let operand = op.code & 0x08 == 0 ? op.k : x
            let taken: Bool
            switch op.code & 0xF0 {
            case 0x00:
                guard UInt64(op.k) < UInt64(count - pc) else { throw Invalid(reason: "jump past the end") }
                return pc + Int(op.k)
            case 0x10: taken = a == operand
            case 0x20: taken = a > operand
            case 0x30: taken = a >= operand
            case 0x40: taken = a & operand != 0
            default: throw Invalid(reason: "unsupported jump 0x\(String(op.code, radix: 16))")
            }
            let target = pc + Int(taken ? op.jt : op.jf)
            guard target < count else { throw Invalid(reason: "jump past the end") }
            return target
        }
    }
}
