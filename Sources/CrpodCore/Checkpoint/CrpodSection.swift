#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What crpod records about a checkpoint beyond podman's fields: the `crpod` object inside
/// `config.dump`. Unknown keys are ignored when decoding (and kept by `CheckpointConfig`).
public struct CrpodSection: Sendable, Equatable, Codable {
    public static let currentVersion = 1

    public var version: Int
    public var podName: String?
    public var podID: String?
    /// The namespaces the source pod shared (`ShareList` names: `ipc`, `net`, ...).
    public var podShares: [String]
    /// OCI namespace types the container had of its own (not joined from the infra).
    public var containerPrivateNamespaces: [String]
    /// The base rootfs directory the container ran on.
    public var rootfs: String?
    /// CRIU's version number at checkpoint (4.1.1 → 40101).
    public var criuVersion: Int?
    public var runtimeVersion: String?
    /// When the checkpoint was taken, RFC 3339 text supplied by the caller.
    public var checkpointedAt: String
    /// The hostname the container saw (the pod's, when UTS was shared).
    public var hostname: String?
    /// The container's PIDs inside its PID namespace at checkpoint.
    public var pids: [Int32]

    public init(
        version: Int = CrpodSection.currentVersion,
        podName: String? = nil,
        podID: String? = nil,
        podShares: [String] = [],
        containerPrivateNamespaces: [String] = [],
        rootfs: String? = nil,
        criuVersion: Int? = nil,
        runtimeVersion: String? = nil,
        checkpointedAt: String,
        hostname: String? = nil,
        pids: [Int32] = []
    ) {
        self.version = version
        self.podName = podName
        self.podID = podID
        self.podShares = podShares
        self.containerPrivateNamespaces = containerPrivateNamespaces
        self.rootfs = rootfs
        self.criuVersion = criuVersion
        self.runtimeVersion = runtimeVersion
        self.checkpointedAt = checkpointedAt
        self.hostname = hostname
        self.pids = pids
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case version, podName, podID, podShares, containerPrivateNamespaces, rootfs
        case criuVersion, runtimeVersion, checkpointedAt, hostname, pids
    }

    /// Keys whose absence means nil; a merge over an older object removes them when nil.
    static let optionalKeys = [
        CodingKeys.podName, .podID, .rootfs, .criuVersion, .runtimeVersion, .hostname,
    ].map(\.rawValue)

    /// `version` and `checkpointedAt` are required; lists default to [] when absent.
    public init(from decoder: any Decoder) throws {
        let box = try decoder.container(keyedBy: CodingKeys.self)
        version = try box.decode(Int.self, forKey: .version)
        checkpointedAt = try box.decode(String.self, forKey: .checkpointedAt)
        podName = try box.decodeIfPresent(String.self, forKey: .podName)
        podID = try box.decodeIfPresent(String.self, forKey: .podID)
        podShares = try box.decodeIfPresent([String].self, forKey: .podShares) ?? []
        containerPrivateNamespaces =
            try box.decodeIfPresent([String].self, forKey: .containerPrivateNamespaces) ?? []
        rootfs = try box.decodeIfPresent(String.self, forKey: .rootfs)
        criuVersion = try box.decodeIfPresent(Int.self, forKey: .criuVersion)
        runtimeVersion = try box.decodeIfPresent(String.self, forKey: .runtimeVersion)
        hostname = try box.decodeIfPresent(String.self, forKey: .hostname)
        pids = try box.decodeIfPresent([Int32].self, forKey: .pids) ?? []
    }

    /// Decodes the section from its JSON object; failures are `CoreError.invalidJSON`.
    public init(json: JSONValue) throws {
        let context = "\(CheckpointMember.config) \(CheckpointConfig.Key.crpod)"
        let data = try json.encoded(pretty: false)
        do {
            self = try JSONDecoder().decode(CrpodSection.self, from: data)
        } catch {
            throw CoreError.invalidJSON(context: context, detail: describeCodingError(error))
        }
    }

    /// The section as a JSON object (nil members left out).
    public func jsonValue() throws -> JSONValue {
        let data: Data
        do {
            data = try JSONEncoder().encode(self)
        } catch {
            throw CoreError.jsonEncodingFailed(detail: describeCodingError(error))
        }
        return try JSONValue.parse(data, context: "crpod section")
    }
}

// MARK: - Building a config.dump at checkpoint time

extension CheckpointConfig {
    /// The `config.dump` crpod writes: podman's field names filled from crpod's facts, so
    /// podman can read the archive, plus the `crpod` section. Each share in
    /// `crpod.podShares` gets `infraID` as its owner; `createNetNS` is true only when the
    /// network namespace was not shared, as podman sets it.
    public static func make(
        id: String,
        name: String,
        createdTime: String,
        createCommand: [String],
        cgroupParent: String,
        runtime: String,
        rootfsImageName: String? = nil,
        infraID: String?,
        mountLabel: String? = nil,
        processLabel: String? = nil,
        crpod: CrpodSection
    ) -> CheckpointConfig {
        var config = CheckpointConfig(uncheckedJSON: .object([:]))
        config.id = id
        config.name = name
        config.pod = crpod.podID
        if let infraID, !infraID.isEmpty {
            config.sharedNamespaceOwners = Dictionary(
                crpod.podShares.map { ($0, infraID) }, uniquingKeysWith: { first, _ in first })
        }
        config.createNetNS = config.sharedNamespaceOwners[NamespaceKind.net.rawValue] == nil
        config.cgroupParent = cgroupParent
        config.createCommand = createCommand
        config.runtime = runtime
        config.rootfsImageName = rootfsImageName
        config.rootfs = rootfsImageName == nil ? crpod.rootfs : nil
        config.mountLabel = mountLabel
        config.processLabel = processLabel
        config.createdTime = createdTime
        config.checkpointedTime = crpod.checkpointedAt
        config.crpod = crpod
        return config
    }

    private init(uncheckedJSON: JSONValue) {
        json = uncheckedJSON
    }
}
