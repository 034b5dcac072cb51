/// A content digest, `sha256:<64 lowercase hex>` (the only algorithm crpod accepts).
public struct ImageDigest: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    public let hex: String

    public static let algorithm = "sha256"

    /// Parses `sha256:<hex>`; nil for anything else (other algorithms, short or upper-case hex).
    public init?(_ text: String) {
        let prefix = Self.algorithm + ":"
        guard text.hasPrefix(prefix) else { return nil }
        self.init(hex: String(text.dropFirst(prefix.count)))
    }

    /// From 64 lowercase hex digits.
    public init?(hex: String) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        self.hex = hex
    }

    public var description: String { Self.algorithm + ":" + hex }
    /// The first 12 hex digits, as `podman images` shows an image ID.
    public var short: String { String(hex.prefix(12)) }

    public static func < (a: ImageDigest, b: ImageDigest) -> Bool { a.hex < b.hex }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let digest = ImageDigest(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a sha256 digest: \(text.prefix(80))"))
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An image reference: `name[:tag][@sha256:…]`. The name is kept as written (crpod knows no
/// default registry); a reference without tag or digest means the tag `latest`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// Repository: `[host[:port]/]path/components` (lower case).
    public var name: String
    public var tag: String?
    public var digest: ImageDigest?

    public static let defaultTag = "latest"

    /// `name:tag` (tag `latest` when none and no digest), then `@digest` when there is one.
    public var description: String {
        var text = name
        if let tag = effectiveTag { text += ":" + tag }
        if let digest { text += "@\(digest)" }
        return text
    }

    /// The tag, with `latest` standing in when neither tag nor digest was given.
    public var effectiveTag: String? { tag ?? (digest == nil ? Self.defaultTag : nil) }

    /// The host part, when the first component looks like one (has `.` or `:`, or is `localhost`).
    public var host: String? {
        guard let first = name.split(separator: "/", maxSplits: 1).first, name.contains("/") else { return nil }
        return first.contains(".") || first.contains(":") || first == "localhost" ? String(first) : nil
    }

    /// The repository path without the host.
    public var path: String {
        guard let host else { return name }
        return String(name.dropFirst(host.count + 1))
    }

    public init(name: String, tag: String? = nil, digest: ImageDigest? = nil) {
        self.name = name
        self.tag = tag
        self.digest = digest
    }

    /// Parses a reference, or throws `CoreError.invalidName` saying what is wrong.
    public static func parse(_ text: String) throws(CoreError) -> ImageReference {
        func bad(_ reason: String) -> CoreError { .invalidName(text, what: "image reference", reason: reason) }
        guard !text.isEmpty, text.utf8.count <= 1024 else { throw bad("empty or longer than 1024 bytes") }
        var rest = Substring(text)
        var digest: ImageDigest?
        if let at = rest.firstIndex(of: "@") {
            guard let parsed = ImageDigest(String(rest[rest.index(after: at)...])) else { throw bad("the digest is not sha256:<64 lowercase hex digits>") }
            digest = parsed
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            let candidate = String(rest[rest.index(after: colon)...])
            guard isValidTag(candidate) else { throw bad("the tag \(candidate.debugDescription) is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}") }
            tag = candidate
            rest = rest[..<colon]
        }
        let name = String(rest)
        if let reason = nameProblem(name) { throw bad(reason) }
        return ImageReference(name: name, tag: tag, digest: digest)
    }

    /// Whether `other` names the same image: equal names, and equal tags/digests where both have one.
    public func matches(_ other: ImageReference) -> Bool {
        guard name == other.name else { return false }
        if let digest, let otherDigest = other.digest, digest != otherDigest { return false }
        return effectiveTag == other.effectiveTag || effectiveTag == nil || other.effectiveTag == nil
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWordByte(first) else { return false }
        return bytes.allSatisfy { isWordByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// The distribution spec's name grammar (components of [a-z0-9] joined by `.`, `_`, `__`
    /// or dashes), with an optional `host[:port]` first component.
    static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty else { return "the name is empty" }
        var components = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if components.count > 1, let first = components.first, first.contains(".") || first.contains(":") || first == "localhost" {
            if let reason = hostProblem(first) { return reason }
            components.removeFirst()
        }
        for component in components where !isValidPathComponent(component) {
            return "the name component \(component.debugDescription) is not lower-case [a-z0-9] joined by ., _, __ or -"
        }
        return nil
    }

    static func hostProblem(_ host: String) -> String? {
        let parts = host.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let hostname = parts.first, !hostname.isEmpty,
              hostname.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            return "the registry host \(host.debugDescription) is not host[:port]"
        }
        if parts.count == 2, !(1...5).contains(parts[1].count) || !parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            return "the registry port in \(host.debugDescription) is not a number"
        }
        return nil
    }

    static func isValidPathComponent(_ component: String) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlphanumeric(first), isLowerAlphanumeric(last) else { return false }
        var separatorRun: [UInt8] = []
        for byte in bytes {
            if isLowerAlphanumeric(byte) {
                guard separatorRun.isEmpty || isValidSeparator(separatorRun) else { return false }
                separatorRun = []
            } else {
                separatorRun.append(byte)
            }
        }
        return true
    }

    static func isValidSeparator(_ run: [UInt8]) -> Bool {
        let text = String(decoding: run, as: UTF8.self)
        return text == "." || text == "_" || text == "__" || text.allSatisfy { $0 == "-" }
    }

    static func isLowerAlphanumeric(_ byte: UInt8) -> Bool { (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) }
    static func isAlphanumeric(_ byte: UInt8) -> Bool { isLowerAlphanumeric(byte) || (byte >= 65 && byte <= 90) }
    static func isWordByte(_ byte: UInt8) -> Bool { isAlphanumeric(byte) || byte == UInt8(ascii: "_") }
}

/// Bytes of one blob transferred so far, reported as they move (a pull's or a push's progress).
public typealias BlobProgress = @Sendable (_ blob: ImageDigest, _ bytes: UInt64) -> Void
