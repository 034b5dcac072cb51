#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A container status as an OCI runtime reports it. String-backed so values this module does
/// not know (crun's, a future runc's) are kept and re-encoded unchanged.
public struct RuntimeStatus: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let creating: RuntimeStatus = "creating"
    public static let created: RuntimeStatus = "created"
    public static let running: RuntimeStatus = "running"
    public static let paused: RuntimeStatus = "paused"
    public static let stopped: RuntimeStatus = "stopped"

    /// Whether this is one of the constants above.
    public var isKnown: Bool {
        [Self.creating, .created, .running, .paused, .stopped].contains(self)
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// One container as `runc state` / `runc list --format json` describe it.
public struct RuntimeState: Sendable, Equatable, Codable {
    public var ociVersion: String
    public var id: String
    /// The init process on the host; 0 once the container has stopped.
    public var pid: Int
    public var status: RuntimeStatus
    public var bundle: String
    public var rootfs: String
    /// RFC 3339 with nanoseconds, as printed (`2026-11-29T08:48:59.296067766Z`).
    public var created: String
    public var annotations: [String: String]
    /// Only `runc list` fills this in (`root`); `runc state` prints an empty string.
    public var owner: String?

    public init(
        ociVersion: String = "", id: String, pid: Int, status: RuntimeStatus, bundle: String = "",
        rootfs: String = "", created: String = "", annotations: [String: String] = [:], owner: String? = nil
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.pid = pid
        self.status = status
        self.bundle = bundle
        self.rootfs = rootfs
        self.created = created
        self.annotations = annotations
        self.owner = owner
    }

    enum CodingKeys: String, CodingKey {
        case ociVersion, id, pid, status, bundle, rootfs, created, annotations, owner
    }

    /// `id` and `status` are required; everything else tolerates absence (crun omits some).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        status = try container.decode(RuntimeStatus.self, forKey: .status)
        ociVersion = try container.decodeIfPresent(String.self, forKey: .ociVersion) ?? ""
        pid = try container.decodeIfPresent(Int.self, forKey: .pid) ?? 0
        bundle = try container.decodeIfPresent(String.self, forKey: .bundle) ?? ""
        rootfs = try container.decodeIfPresent(String.self, forKey: .rootfs) ?? ""
        created = try container.decodeIfPresent(String.self, forKey: .created) ?? ""
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        owner = try container.decodeIfPresent(String.self, forKey: .owner)
    }

    /// Decodes the output of `runc state <id>`.
    public static func decode(state json: String) throws -> RuntimeState {
        try JSONDecoder().decode(RuntimeState.self, from: Data(json.utf8))
    }

    /// Decodes the output of `runc list --format json`, where `null` (or nothing) means none.
    public static func decode(list json: String) throws -> [RuntimeState] {
        let trimmed = json.trimmingTrailingWhitespace().drop(while: \.isWhitespace)
        if trimmed.isEmpty || trimmed == "null" { return [] }
        return try JSONDecoder().decode([RuntimeState].self, from: Data(trimmed.utf8))
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        self[...].trimmingTrailingWhitespace()
    }
}
