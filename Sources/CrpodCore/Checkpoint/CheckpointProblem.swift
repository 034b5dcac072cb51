/// Errors from decoding checkpoint content that is not JSON (CRIU's binary images).
/// JSON members (config.dump, spec.dump, the crpod manifest) throw `CoreError.invalidJSON`
/// or `CoreError.notAnObject` instead.
///
/// Kept apart from `CoreError` only because that file is owned elsewhere; the cases are
/// meant to move into `CoreError` (one error enum per module) when it is next edited.
public enum CheckpointProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// A CRIU image did not start with the expected magic words. `found` is the first
    /// word that did not match (nil when the image was too short to hold one).
    case wrongMagic(image: String, expected: UInt32, found: UInt32?)
    /// A CRIU image ended, or held an impossible value, at byte `offset`.
    case malformedImage(image: String, offset: Int, reason: String)

    public var description: String {
        switch self {
        case let .wrongMagic(image, expected, found):
            let seen = found.map { "0x" + hex32($0) } ?? "end of data"
            return "CRIU image \(image): expected magic 0x\(hex32(expected)), found \(seen)"
        case let .malformedImage(image, offset, reason):
            return "CRIU image \(image): malformed at byte \(offset): \(oneLine(reason))"
        }
    }
}

/// Eight lowercase hex digits.
func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
