#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import CrpodCore

/// A deterministic generator for tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Yields fixed words, so a test can force an all-digit short ID first.
struct ScriptedGenerator: RandomNumberGenerator {
    var words: [UInt64]
    /// Falls back to all-`f` words, which never need a redraw, so a test cannot spin.
    mutating func next() -> UInt64 { words.isEmpty ? UInt64.max : words.removeFirst() }
}

@Suite("ObjectID")
struct ObjectIDTests {
    @Test func generatedIDsAreValidAndDistinct() {
        let ids = (0..<64).map { _ in ObjectID.generate() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(ObjectID(rawValue: id.rawValue) == id)
            #expect(id.rawValue.count == 64)
            #expect(id.short == String(id.rawValue.prefix(12)))
            #expect(id.description == id.rawValue)
        }
    }

    @Test func seededGenerationIsDeterministicAndPadded() {
        var first = SeededGenerator(state: 1)
        var second = SeededGenerator(state: 1)
        #expect(ObjectID.generate(using: &first) == ObjectID.generate(using: &second))
        var padded = ScriptedGenerator(words: [UInt64.max, 0xA, 0, 0])
        let expected = String(repeating: "f", count: 16) + "000000000000000a" + String(repeating: "0", count: 32)
        #expect(ObjectID.generate(using: &padded).rawValue == expected)
    }

    @Test func redrawsWhenShortFormIsAllDigits() {
        var generator = ScriptedGenerator(words: [0x1234_5678_9012_3456, 1, 2, 3, 0xFFFF_0000_0000_0000, 0, 0, 0])
        let id = ObjectID.generate(using: &generator)
        #expect(id.short == "ffff00000000")
    }

    @Test func stubbornAllDigitGeneratorStillTerminates() {
        var generator = ScriptedGenerator(words: Array(repeating: 0x1111_1111_1111_1111, count: 64))
        let id = ObjectID.generate(using: &generator)
        #expect(ObjectID(rawValue: id.rawValue) == id)
        #expect(generator.words.count == 64 - 8 * 4, "eight draws, then accepted")
    }

    @Test(arguments: [
        ("", false),
        (String(repeating: "a", count: 63), false),
        (String(repeating: "a", count: 65), false),
        (String(repeating: "A", count: 64), false),
        (String(repeating: "g", count: 64), false),
        (String(repeating: "0", count: 63) + " ", false),
        (String(repeating: "0123456789abcdef", count: 4), true),
    ])
    func validation(_ raw: String, _ valid: Bool) {
        #expect((ObjectID(rawValue: raw) != nil) == valid)
    }

    @Test func codableRejectsInvalid() throws {
        let id = ObjectID.generate()
        let data = try JSONEncoder().encode([id])
        #expect(try JSONDecoder().decode([ObjectID].self, from: data) == [id])
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode([ObjectID].self, from: Data(#"["abc"]"#.utf8))
        }
    }
}

@Suite("NameRule")
struct NameRuleTests {
    @Test(arguments: ["a", "web", "Pod-1", "db_2.prod", "0", "x" + String(repeating: "-", count: 252)])
    func accepts(_ name: String) throws {
        try NameRule.validate(name, what: "pod name")
    }

    @Test(arguments: [
        ("", "must not be empty"),
        ("-lead", "must match"),
        ("_lead", "must match"),
        (".lead", "must match"),
        ("has space", "must match"),
        ("slash/name", "must match"),
        ("colon:name", "must match"),
        ("ümlaut", "must match"),
        ("new\nline", "must match"),
        (String(repeating: "a", count: 254), "longer than 253"),
    ])
    func rejects(_ name: String, _ reason: String) {
        #expect {
            try NameRule.validate(name, what: "container name")
        } throws: { error in
            guard let error = error as? CoreError, case let .invalidName(value, what, why) = error else {
                return false
            }
            let message = error.description
            return value == name && what == "container name" && why.contains(reason)
                && message.hasPrefix("invalid container name \"") && !message.contains("\n")
        }
    }
}
