/// Sizes as podman and docker take them (`--shm-size 64m`): a whole number and an optional
/// binary unit — b, k, m, g, t, case-insensitive, optionally followed by `b` or `ib`
/// (`64m`, `64MB`, `64MiB` are all 64 × 1024² bytes).
public enum ByteSize {
    static let units: [Character: UInt64] = ["b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]

    /// The byte count, or nil when `text` is not such a size or overflows.
    public static func parse(_ text: String) -> UInt64? {
        let lower = text.lowercased()
        let digits = lower.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = UInt64(digits) else { return nil }
        var rest = lower.dropFirst(digits.count)
        var multiplier: UInt64 = 1
        if let unit = rest.first, let value = units[unit] {
            multiplier = value
            rest = rest.dropFirst()
            if unit != "b" && (rest == "b" || rest == "ib") { rest = "" }
        }
        guard rest.isEmpty else { return nil }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// `bytes` in the largest binary unit that divides it (`64m`, `1536k`, `100b`).
    public static func format(_ bytes: UInt64) -> String {
        for (suffix, size) in [("t", UInt64(1) << 40), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)] where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(suffix)"
        }
        return "\(bytes)b"
    }
}
