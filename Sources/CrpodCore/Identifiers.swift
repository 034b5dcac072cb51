/// A pod or container ID: 64 lowercase hex digits (256 random bits), as podman uses.
public struct ObjectID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts exactly 64 lowercase hex digits.
    public init?(rawValue: String) {
        guard rawValue.utf8.count == 64, rawValue.utf8.allSatisfy(Self.isLowerHex) else { return nil }
        self.rawValue = rawValue
    }

    /// A fresh random ID from the system's secure generator.
    public static func generate() -> ObjectID {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// A random ID from `generator` (32 bytes). Like podman, it draws again when the short
    /// form would be all digits, so a short ID is never mistaken for a number; a generator
    /// that keeps producing such IDs gets its eighth draw accepted rather than a hang.
    public static func generate<G: RandomNumberGenerator>(using generator: inout G) -> ObjectID {
        var id = draw(using: &generator)
        for _ in 1..<8 where id.short.allSatisfy(\.isNumber) {
            id = draw(using: &generator)
        }
        return id
    }

    private static func draw<G: RandomNumberGenerator>(using generator: inout G) -> ObjectID {
        let hex = (0..<4).map { _ in hex16(generator.next()) }.joined()
        return ObjectID(uncheckedRawValue: hex)
    }

    private init(uncheckedRawValue: String) {
        rawValue = uncheckedRawValue
    }

    /// The first 12 digits, as `podman ps` shows.
    public var short: String { String(rawValue.prefix(12)) }

    public var description: String { rawValue }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    private static func hex16(_ word: UInt64) -> String {
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// Podman's rule for pod and container names.
public enum NameRule {
    public static let maxLength = 253
    public static let patternDescription = "[a-zA-Z0-9][a-zA-Z0-9_.-]*"

    /// Throws `CoreError.invalidName` naming `what` ("pod name") and the bad value.
    public static func validate(_ name: String, what: String) throws {
        guard let first = name.utf8.first else {
            throw CoreError.invalidName(name, what: what, reason: "must not be empty")
        }
        guard name.utf8.count <= maxLength else {
            throw CoreError.invalidName(
                name, what: what, reason: "longer than \(maxLength) characters (\(name.utf8.count))")
        }
        guard isAlphanumeric(first), name.utf8.dropFirst().allSatisfy(isAllowedLater) else {
            throw CoreError.invalidName(name, what: what, reason: "must match \(patternDescription)")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAllowedLater(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "-")
    }
}
