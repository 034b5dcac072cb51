#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodLinux
import Testing

/// Rewrites one field of a CRIU image's protobuf entry, as an attacker with `crit` would.
enum ImageEditor {
    struct Field {
        var number: UInt64
        var wire: UInt64
        var value: [UInt8]
    }

    static func varint(_ bytes: [UInt8], _ offset: inout Int) -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard offset < bytes.count else { return nil }
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        return nil
    }

    static func encode(_ value: UInt64) -> [UInt8] {
        var rest = value
        var out: [UInt8] = []
        while rest >= 0x80 { out.append(UInt8(truncatingIfNeeded: rest) | 0x80); rest >>= 7 }
        return out + [UInt8(rest)]
    }

    /// The fields of a message; `value` holds the raw varint or the length-delimited payload.
    static func fields(_ bytes: [UInt8]) -> [Field]? {
        var offset = 0
        var result: [Field] = []
        while offset < bytes.count {
            guard let key = varint(bytes, &offset) else { return nil }
            switch key & 7 {
            case 0:
                let start = offset
                guard varint(bytes, &offset) != nil else { return nil }
                result.append(Field(number: key >> 3, wire: 0, value: Array(bytes[start..<offset])))
            case 2:
                guard let length = varint(bytes, &offset), Int(length) <= bytes.count - offset else { return nil }
                result.append(Field(number: key >> 3, wire: 2, value: Array(bytes[offset..<offset + Int(length)])))
                offset += Int(length)
            case 5: result.append(Field(number: key >> 3, wire: 5, value: Array(bytes[offset..<min(offset + 4, bytes.count)]))); offset += 4
            case 1: result.append(Field(number: key >> 3, wire: 1, value: Array(bytes[offset..<min(offset + 8, bytes.count)]))); offset += 8
            default: return nil
            }
        }
        return result
    }

    static func serialize(_ fields: [Field]) -> [UInt8] {
        fields.flatMap { field in
            encode(field.number << 3 | field.wire) + (field.wire == 2 ? encode(UInt64(field.value.count)) : []) + field.value
        }
    }

    /// Replaces the repeated varint field `number` of the message at `path` (nested field numbers).
    static func setting(_ message: [UInt8], path: ArraySlice<UInt64>, number: UInt64, to values: [UInt64]) -> [UInt8]? {
        guard var parsed = fields(message) else { return nil }
        if let head = path.first {
            for index in parsed.indices where parsed[index].number == head && parsed[index].wire == 2 {
                guard let inner = setting(parsed[index].value, path: path.dropFirst(), number: number, to: values) else { return nil }
                parsed[index].value = inner
            }
            return serialize(parsed)
        }
        parsed.removeAll { $0.number == number }
        parsed += values.map { Field(number: number, wire: 0, value: encode($0)) }
        return serialize(parsed)
    }

    /// `core-<tid>.img` with the thread's creds `cap_prm`, `cap_eff` and `cap_bnd` words replaced
    /// (core_entry 5 → thread_core 10 → creds 10, 11, 12; CRIU's capset needs cap_eff ⊆ cap_prm).
    static func raisingCapabilities(_ image: [UInt8], words: [UInt64]) -> [UInt8]? {
        guard image.count >= 12 else { return nil }
        let length = Int(image[8]) | Int(image[9]) << 8 | Int(image[10]) << 16 | Int(image[11]) << 24
        var entry: [UInt8]? = Array(image[12..<12 + min(length, image.count - 12)])
        for number: UInt64 in [10, 11, 12] { entry = entry.flatMap { setting($0, path: [5, 10], number: number, to: words) } }
        guard length <= image.count - 12, let entry else { return nil }
        let count = UInt32(entry.count)
        return Array(image[0..<8]) + (0..<4).map { UInt8(truncatingIfNeeded: count >> (8 * UInt32($0))) } + entry
    }
}

@Suite("the image rule on a checkpoint kept in place", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct ImageRuleInPlaceTests {
    /// CAP_SYS_PACCT (20): outside runc's default set, harmless to hold in a test.
    static let raised: UInt64 = 0xA804_25FB | 1 << 20

    @Test("raised capability sets are refused with nothing started; --trust-archive restores it and the raised set is what runs")
    func raisedCapabilities() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["run", "--name", "c", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            try await crpod.ok(["checkpoint", "c"])
            let container = try await crpod.json(ContainerJSON.self, ["inspect", "c"])
            let images = Files.parent(of: container.bundle) + "/checkpoint"
            let cores = try Files.listDirectory(images).filter { $0.hasPrefix("core-") }
            #expect(!cores.isEmpty)
            for name in cores {
                let original = try Files.read(images + "/" + name)
                // A child that had exited at the dump (the counter's sleep) is a zombie: no creds, it never runs.
                if try CRIUThreadCore.decode(original, image: name).isZombie { continue }
                let edited = try #require(ImageEditor.raisingCapabilities(original, words: [Self.raised, 0]))
                #expect(try CRIUThreadCore.decode(edited, image: name).credentials?.capEff == [UInt32(Self.raised), 0])
                try Files.writeAtomically(images + "/" + name, edited)
            }
            let refused = try await crpod.run(["restore", "c"])
            #expect(!refused.ok)
            #expect(refused.stderr.contains("cap_eff has CAP_SYS_PACCT beyond the spec's bounding set"), "\(refused.stderr)")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "checkpointed")

            let remote = try await crpod.run(["restore", "--trust-archive", "c"], environment: ["CRPOD_HOST": crpod.base + "/no.sock"])
            #expect(!remote.ok && remote.stderr.contains("root CLI only"), "\(remote.stderr)")

            try await crpod.ok(["restore", "--trust-archive", "c"])
            let pid = try await crpod.pid(ofContainer: "c")
            let status = try Files.readText("/proc/\(pid)/status")
            #expect(status.contains("CapEff:\t00000000a81425fb"), "the images, not the spec, decide: \(status)")
        }
    }
}
