@testable import CrpodCore

/// A tiny eBPF interpreter for the instructions the device filter emits, over
/// `struct bpf_cgroup_dev_ctx` as the kernel fills it. It refuses what the kernel's verifier
/// would: unknown opcodes, backward or out-of-range jumps, reads outside the 12-byte context,
/// falling off the end, registers read before they are written.
struct DeviceFilterInterpreter {
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// What a device access asks: type `b`/`c`, numbers, and the access of one open or mknod.
    struct Request: CustomStringConvertible {
        let type: DeviceType
        let major: UInt32
        let minor: UInt32
        let access: DeviceAccess

        /// The context words: access_type = access << 16 | type, major, minor.
        var context: [UInt32] {
            let type: UInt32 = self.type == .block ? 1 : 2
            return [UInt32(DeviceFilterProgram.contextAccess(access)) << 16 | type, major, minor]
        }

        var description: String { "\(type.rawValue) \(major):\(minor) \(access)" }
    }

    /// 1 (allow) or 0 (deny), as the program returns it in r0.
    static func run(_ program: [EBPFInstruction], _ request: Request) throws(Refused) -> UInt64 {
        typealias Op = EBPFInstruction.Opcode
        var registers = [UInt64?](repeating: nil, count: 11)
        registers[1] = 0  // the context pointer; loads are checked against the context's 12 bytes
        func read(_ register: UInt8) throws(Refused) -> UInt64 {
            guard Int(register) < registers.count, let value = registers[Int(register)] else { throw Refused(description: "r\(register) read before written") }
            return value
        }
        let context = request.context
        var pc = 0
        for _ in 0..<program.count {
            guard program.indices.contains(pc) else { throw Refused(description: "fell off the program at \(pc)") }
            let insn = program[pc]
            let dst = Int(insn.destination)
            pc += 1
            switch insn.opcode {
            case Op.loadWord:
                let address = Int(try read(insn.source)) + Int(insn.offset)
                guard insn.source == 1, address >= 0, address % 4 == 0, address / 4 < context.count else { throw Refused(description: "load outside the context") }
                registers[dst] = UInt64(context[address / 4])
            case Op.and32Immediate: registers[dst] = UInt64(UInt32(truncatingIfNeeded: try read(insn.destination)) & UInt32(bitPattern: insn.immediate))
            case Op.shiftRight32Immediate: registers[dst] = UInt64(UInt32(truncatingIfNeeded: try read(insn.destination)) >> UInt32(insn.immediate))
            case Op.move32Register: registers[dst] = UInt64(UInt32(truncatingIfNeeded: try read(insn.source)))
            case Op.move32Immediate: registers[dst] = UInt64(UInt32(bitPattern: insn.immediate))
            case Op.jumpNotEqualImmediate, Op.jumpNotEqualRegister:
                guard insn.offset >= 0, pc + Int(insn.offset) < program.count else { throw Refused(description: "jump out of range at \(pc - 1)") }
                let other = insn.opcode == Op.jumpNotEqualImmediate ? UInt64(bitPattern: Int64(insn.immediate)) : try read(insn.source)
                if try read(insn.destination) != other { pc += Int(insn.offset) }
            case Op.exit: return try read(0)
            default: throw Refused(description: "unknown opcode 0x\(String(insn.opcode, radix: 16))")
            }
        }
        throw Refused(description: "no exit within \(program.count) steps")
    }
}
