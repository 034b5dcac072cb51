/// A CRIU version as printed by `criu --version` (`Version: 4.1.1`, optionally a `GitID:` line).
public struct CRIUVersion: Sendable, Equatable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let sublevel: Int

    public init(major: Int, minor: Int, sublevel: Int = 0) {
        self.major = major
        self.minor = minor
        self.sublevel = sublevel
    }

    /// CRIU's own numbering, as in its RPC VERSION answer and podman's gates: 4.1.1 → 40101.
    public var number: Int { 10000 * major + 100 * minor + sublevel }

    /// The oldest CRIU podman restores into a pod with (3.16).
    public static let podRestoreMinimum = 31600

    public var supportsPodRestore: Bool { number >= Self.podRestoreMinimum }

    public var description: String { "\(major).\(minor).\(sublevel)" }

    public static func < (lhs: CRIUVersion, rhs: CRIUVersion) -> Bool {
        lhs.number < rhs.number
    }

    /// Parses the output of `criu --version`. `nil` when no `Version: MAJOR.MINOR[.SUB]` line
    /// is present. Suffixes such as `-rc1` or `-dirty` after a component are ignored.
    public static func parse(_ output: String) -> CRIUVersion? {
        for line in output.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop(while: \.isWhitespace)
            guard trimmed.hasPrefix("Version:") else { continue }
            let value = trimmed.dropFirst("Version:".count).drop(while: \.isWhitespace)
            return parseDotted(value)
        }
        return nil
    }

    static func parseDotted(_ text: Substring) -> CRIUVersion? {
        let word = text.prefix(while: { !$0.isWhitespace })
        let parts = word.split(separator: ".", omittingEmptySubsequences: false).map(leadingNumber)
        guard parts.count >= 2, let major = parts[0], let minor = parts[1] else { return nil }
        let sublevel = parts.count >= 3 ? (parts[2] ?? 0) : 0
        return CRIUVersion(major: major, minor: minor, sublevel: sublevel)
    }
}

/// The decimal number at the start of `text` (`"1-rc2"` → 1); `nil` when it starts otherwise.
func leadingNumber(_ text: Substring) -> Int? {
    let digits = text.prefix(while: { $0.isASCII && $0.isNumber })
    return digits.isEmpty ? nil : Int(digits)
}

/// An OCI runtime's identity from `<runtime> --version`: `runc version 1.1.5+ds1` or
/// `crun version 1.8.1`. `name` is whatever the runtime calls itself (`runc`, `crun`, `youki`).
public struct RuntimeVersion: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let name: String
    public let version: String
    /// The first line, verbatim, for messages and `crpod info`.
    public let firstLine: String
    /// The `spec:` line of runc (the OCI runtime-spec version it implements), when present.
    public let spec: String?

    public init(name: String, version: String, firstLine: String, spec: String? = nil) {
        self.name = name
        self.version = version
        self.firstLine = firstLine
        self.spec = spec
    }

    public var isRunc: Bool { name == "runc" }
    public var isCrun: Bool { name == "crun" }

    /// The leading numeric components of `version` (`1.1.5+ds1` → [1, 1, 5]).
    public var numericComponents: [Int] {
        var result: [Int] = []
        for part in version.split(separator: ".") {
            guard let number = leadingNumber(part) else { break }
            result.append(number)
            if part.count != String(number).count { break }
        }
        return result
    }

    public var description: String { "\(name) \(version)" }

    /// Parses `<name> version <version>` from the first non-empty line; `nil` otherwise.
    public static func parse(_ output: String) -> RuntimeVersion? {
        let lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingTrailingWhitespace() }
        guard let first = lines.first(where: { !$0.isEmpty }) else { return nil }
        let words = first.split(whereSeparator: \.isWhitespace)
        guard words.count >= 3, words[1] == "version" else { return nil }
        let spec = lines.first(where: { $0.hasPrefix("spec:") })
            .map { String($0.dropFirst("spec:".count).drop(while: \.isWhitespace)) }
        return RuntimeVersion(name: String(words[0]), version: String(words[2]), firstLine: first, spec: spec)
    }
}
