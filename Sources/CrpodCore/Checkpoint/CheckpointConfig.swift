#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A typed view over a checkpoint's `config.dump` (podman's `ContainerConfig` as JSON, or
/// crpod's superset of it). The whole document stays in `json`, so every field crpod does
/// not model survives reading, patching and writing. Keys are podman 4's spellings.
public struct CheckpointConfig: Sendable, Equatable, Codable {
    public var json: JSONValue

    /// Wraps a parsed document; it must be a JSON object.
    public init(json: JSONValue) throws {
        guard json.objectValue != nil else { throw CoreError.notAnObject(context: CheckpointMember.config) }
        self.json = json
    }

    /// Parses `config.dump` bytes; `context` (an archive path, say) names the source in errors.
    public init(data: Data, context: String) throws {
        let json = try JSONValue.parse(data, context: context)
        guard json.objectValue != nil else { throw CoreError.notAnObject(context: context) }
        self.json = json
    }

    public init(from decoder: any Decoder) throws {
        try self.init(json: JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }

    /// The document as pretty, key-sorted JSON.
    public func data() throws -> Data {
        try json.encoded(pretty: true)
    }
}

// MARK: - Keys

extension CheckpointConfig {
    /// podman's `config.dump` keys (Go field tags; `Dependencies` and the labels have none
    /// or capitalised ones, which is why they look different).
    public enum Key {
        public static let id = "id"
        public static let name = "name"
        public static let pod = "pod"
        public static let dependencies = "Dependencies"
        public static let cgroupParent = "cgroupParent"
        public static let createCommand = "CreateCommand"
        public static let createNetNS = "createNetNS"
        public static let rootfs = "rootfs"
        public static let rootfsImageName = "rootfsImageName"
        public static let rootfsImageID = "rootfsImageID"
        public static let runtime = "runtime"
        public static let mountLabel = "MountLabel"
        public static let processLabel = "ProcessLabel"
        public static let createdTime = "createdTime"
        /// podman's `CheckpointedTime`: checkpointctl's `list` shows it.
        public static let checkpointedTime = "checkpointedTime"
        public static let shmSize = "shmSize"
        public static let crpod = "crpod"
        /// Lower-case spellings some writers use; read as a fallback, never written.
        static let mountLabelAlternate = "mountLabel"
        static let processLabelAlternate = "processLabel"
    }

    /// Pod share name (`ShareList.allowed`) → podman's key for the container owning it.
    public static let namespaceOwnerKeys: [(share: String, key: String)] =
        ShareList.allowed.compactMap { share in NamespaceKind(rawValue: share).facts?.podmanOwnerKey.map { (share, $0) } }
}

// MARK: - Fields

extension CheckpointConfig {
    public var id: String? {
        get { string(Key.id) }
        set { setString(newValue, Key.id) }
    }

    public var name: String? {
        get { string(Key.name) }
        set { setString(newValue, Key.name) }
    }

    /// The pod's full ID; an absent or empty `pod` is nil. Setting nil removes the key.
    public var pod: String? {
        get { string(Key.pod).flatMap { $0.isEmpty ? nil : $0 } }
        set { setString(newValue.flatMap { $0.isEmpty ? nil : $0 }, Key.pod) }
    }

    /// Share name (`ipc`, `net`, `uts`, `pid`, `cgroup`) → ID of the container whose
    /// namespace this one joined (a pod's infra). Empty values are left out; setting writes
    /// every `*NsCtr` key and removes those not in the dictionary.
    public var sharedNamespaceOwners: [String: String] {
        get {
            var owners: [String: String] = [:]
            for (share, key) in Self.namespaceOwnerKeys {
                if let owner = string(key), !owner.isEmpty { owners[share] = owner }
            }
            return owners
        }
        set {
            for (share, key) in Self.namespaceOwnerKeys {
                setString(newValue[share].flatMap { $0.isEmpty ? nil : $0 }, key)
            }
        }
    }

    /// podman's `Dependencies` (explicit `--requires` containers); absent or null is [].
    /// Setting [] removes the key.
    public var dependencies: [String] {
        get { strings(Key.dependencies) }
        set { setStrings(newValue, Key.dependencies) }
    }

    public var cgroupParent: String? {
        get { string(Key.cgroupParent) }
        set { setString(newValue, Key.cgroupParent) }
    }

    /// The command line that created the container; setting [] removes the key.
    public var createCommand: [String] {
        get { strings(Key.createCommand) }
        set { setStrings(newValue, Key.createCommand) }
    }

    public var createNetNS: Bool? {
        get { json[Key.createNetNS]?.boolValue }
        set { json[Key.createNetNS] = newValue.map(JSONValue.bool) }
    }

    /// A rootfs directory the container was created from (podman `--rootfs`), when not an image.
    public var rootfs: String? {
        get { string(Key.rootfs) }
        set { setString(newValue, Key.rootfs) }
    }

    public var rootfsImageName: String? {
        get { string(Key.rootfsImageName) }
        set { setString(newValue, Key.rootfsImageName) }
    }

    public var rootfsImageID: String? {
        get { string(Key.rootfsImageID) }
        set { setString(newValue, Key.rootfsImageID) }
    }

    /// The OCI runtime's name (`runc`).
    public var runtime: String? {
        get { string(Key.runtime) }
        set { setString(newValue, Key.runtime) }
    }

    /// The SELinux mount label; read from `MountLabel`, else `mountLabel`. Setting writes
    /// `MountLabel` and drops the alternate spelling.
    public var mountLabel: String? {
        get { string(Key.mountLabel) ?? string(Key.mountLabelAlternate) }
        set {
            setString(newValue, Key.mountLabel)
            json[Key.mountLabelAlternate] = nil
        }
    }

    /// The SELinux process label; read from `ProcessLabel`, else `processLabel`.
    public var processLabel: String? {
        get { string(Key.processLabel) ?? string(Key.processLabelAlternate) }
        set {
            setString(newValue, Key.processLabel)
            json[Key.processLabelAlternate] = nil
        }
    }

    /// Creation time as written (RFC 3339 text); not interpreted here.
    public var createdTime: String? {
        get { string(Key.createdTime) }
        set { setString(newValue, Key.createdTime) }
    }

    /// When the checkpoint was taken (RFC 3339 text), as podman writes it.
    public var checkpointedTime: String? {
        get { string(Key.checkpointedTime) }
        set { setString(newValue, Key.checkpointedTime) }
    }

    /// podman's `shmSize`: the bytes of the tmpfs podman mounts at /dev/shm. A podman restore
    /// drops the checkpoint's /dev/shm bind and mounts a fresh tmpfs of this size (unbounded
    /// when absent), then unpacks devshm-checkpoint.tar into it. Setting nil removes the key.
    public var shmSize: UInt64? {
        get { json[Key.shmSize]?.uint64Value }
        set { json[Key.shmSize] = newValue.map(JSONValue.init) }
    }

    private func string(_ key: String) -> String? {
        json[key]?.stringValue
    }

    private mutating func setString(_ value: String?, _ key: String) {
        json[key] = value.map(JSONValue.string)
    }

    private func strings(_ key: String) -> [String] {
        json[key]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    private mutating func setStrings(_ values: [String], _ key: String) {
        json[key] = values.isEmpty ? JSONValue?.none : JSONValue(strings: values)
    }
}

// MARK: - The crpod section

extension CheckpointConfig {
    /// Whether the document has a `crpod` member at all (well-formed or not).
    public var hasCrpodSection: Bool { json[Key.crpod] != nil }

    /// The `crpod` member, or nil when absent or malformed (see `decodeCrpod()` for why).
    /// Setting writes the known keys over the old member, so keys a newer crpod added survive;
    /// setting nil removes it.
    public var crpod: CrpodSection? {
        get { try? decodeCrpod() }
        set {
            guard let newValue, let encoded = try? newValue.jsonValue() else {
                json[Key.crpod] = nil
                return
            }
            var merged = json[Key.crpod]?.objectValue ?? [:]
            for (key, value) in encoded.objectValue ?? [:] { merged[key] = value }
            for key in CrpodSection.optionalKeys where encoded[key] == nil { merged[key] = nil }
            json[Key.crpod] = .object(merged)
        }
    }

    /// The `crpod` member, nil when absent; throws `CoreError.invalidJSON` when malformed.
    public func decodeCrpod() throws -> CrpodSection? {
        guard let section = json[Key.crpod] else { return nil }
        guard section.objectValue != nil else {
            throw CoreError.notAnObject(context: "\(CheckpointMember.config) \(Key.crpod)")
        }
        return try CrpodSection(json: section)
    }
}
