#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Any JSON value, kept losslessly: unknown fields survive parse → encode, and integers
/// stay exact (`int` for everything that fits in Int64, `uint` only above Int64.max — e.g.
/// the rlimit value 18446744073709551615 — and `double` for the rest).
public enum JSONValue: Sendable, Equatable, Hashable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    /// Only for values above `Int64.max`; smaller unsigned values are `int`.
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The canonical case for an unsigned integer: `int` when it fits, else `uint`.
    public init(_ value: UInt64) {
        if let small = Int64(exactly: value) {
            self = .int(small)
        } else {
            self = .uint(value)
        }
    }

    /// The canonical case for a number read as a Double: a whole value that fits `int` or
    /// `uint` becomes that (the encoder writes it as an integer, so reading it back must give
    /// the same case — e.g. `18446507346744040.00000000001` is a whole Double), else `double`.
    init(number value: Double) {
        if let small = Int64(exactly: value) {
            self = .int(small)
        } else if let large = UInt64(exactly: value) {
            self = .uint(large)
        } else {
            self = .double(value)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(UInt64.self) {
            self = JSONValue(value)
        } else if let value = try? container.decode(Double.self) {
            self = JSONValue(number: value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .int(value): try container.encode(value)
        case let .uint(value): try container.encode(value)
        case let .double(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }

    /// Parses JSON text; failures become `CoreError.invalidJSON` naming `context`.
    public static func parse(_ data: Data, context: String) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw CoreError.invalidJSON(context: context, detail: describeCodingError(error))
        }
    }

    /// JSON text with sorted keys (deterministic output) and unescaped slashes.
    public func encoded(pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        var format: JSONEncoder.OutputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if pretty { format.insert(.prettyPrinted) }
        encoder.outputFormatting = format
        do {
            return try encoder.encode(self)
        } catch {
            throw CoreError.jsonEncodingFailed(detail: describeCodingError(error))
        }
    }
}

// MARK: - Accessors

extension JSONValue {
    public var stringValue: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case let .array(value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case let .object(value) = self { return value }
        return nil
    }

    /// The integer value when it is exactly representable as Int64.
    public var int64Value: Int64? {
        switch self {
        case let .int(value): return value
        case let .uint(value): return Int64(exactly: value)
        case let .double(value): return Int64(exactly: value)
        default: return nil
        }
    }

    /// The integer value when it is exactly representable as UInt64.
    public var uint64Value: UInt64? {
        switch self {
        case let .int(value): return UInt64(exactly: value)
        case let .uint(value): return value
        case let .double(value): return UInt64(exactly: value)
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case let .bool(value) = self { return value }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// An array of strings, or nil when this is not an array or an element is not a string.
    public var stringArrayValue: [String]? {
        guard let array = arrayValue else { return nil }
        let strings = array.compactMap(\.stringValue)
        return strings.count == array.count ? strings : nil
    }

    /// A member of an object. Reading a non-object gives nil. Setting on a non-object
    /// replaces it with an object holding only that member; setting nil removes the member.
    public subscript(key: String) -> JSONValue? {
        get { objectValue?[key] }
        set {
            var members = objectValue ?? [:]
            guard newValue != nil || objectValue != nil else { return }
            members[key] = newValue
            self = .object(members)
        }
    }

    /// The value at a path of object keys (`["linux", "namespaces"]`), or nil.
    public func value(atPath path: [String]) -> JSONValue? {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    /// Sets (or with nil, removes) the value at a path of object keys. Missing or non-object
    /// intermediate members are created as objects when setting; removing never creates any.
    public mutating func setValue(_ value: JSONValue?, atPath path: [String]) {
        guard let key = path.first else {
            self = value ?? .null
            return
        }
        let rest = Array(path.dropFirst())
        if rest.isEmpty {
            self[key] = value
            return
        }
        if let value {
            var child = self[key].flatMap { $0.objectValue == nil ? nil : $0 } ?? .object([:])
            child.setValue(value, atPath: rest)
            self[key] = child
        } else if var child = self[key], child.objectValue != nil {
            child.setValue(nil, atPath: rest)
            self[key] = child
        }
    }
}

/// A one-line account of an encoding/decoding error, with the coding path when there is one.
func describeCodingError(_ error: any Error) -> String {
    let context: (path: [any CodingKey], text: String, underlying: (any Error)?)
    switch error {
    case let DecodingError.dataCorrupted(ctx),
         let DecodingError.keyNotFound(_, ctx),
         let DecodingError.typeMismatch(_, ctx),
         let DecodingError.valueNotFound(_, ctx):
        context = (ctx.codingPath, ctx.debugDescription, ctx.underlyingError)
    case let EncodingError.invalidValue(_, ctx):
        context = (ctx.codingPath, ctx.debugDescription, ctx.underlyingError)
    default:
        return oneLine(String(describing: error))
    }
    var text = context.text
    if !context.path.isEmpty {
        text = "at \(context.path.map(\.stringValue).joined(separator: ".")): " + text
    }
    if let underlying = context.underlying {
        text += " (\(String(describing: underlying)))"
    }
    return oneLine(text)
}
