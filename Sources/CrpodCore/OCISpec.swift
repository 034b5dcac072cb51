#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The OCI runtime-spec namespace types (`linux.namespaces[].type`). Plain strings so
/// values crpod does not know still round-trip; the names come from `NamespaceKind.table`.
public enum OCINamespaceType {
    public static let ipc = NamespaceKind.ipc.ociType
    public static let network = NamespaceKind.net.ociType
    public static let pid = NamespaceKind.pid.ociType
    public static let uts = NamespaceKind.uts.ociType
    public static let cgroup = NamespaceKind.cgroup.ociType
    public static let mount = NamespaceKind.mnt.ociType
    public static let user = NamespaceKind.user.ociType
    public static let time = NamespaceKind.time.ociType

    /// Every known type, in the order crpod lists and sorts them.
    public static let all = NamespaceKind.table.map(\.ociType)

    /// A type's position in `all` (unknown types sort last).
    static func order(_ type: String) -> Int { all.firstIndex(of: type) ?? all.count }
}

/// One `linux.namespaces` entry: a type, and a path when the namespace is joined.
public struct OCINamespace: Sendable, Equatable, Codable {
    public var type: String
    public var path: String?

    public init(type: String, path: String? = nil) {
        self.type = type
        self.path = path
    }

    init?(json: JSONValue) {
        guard let type = json["type"]?.stringValue else { return nil }
        self.init(type: type, path: json["path"]?.stringValue)
    }

    /// This entry written over `base`, so unknown members of an existing entry survive.
    func json(over base: JSONValue = .object([:])) -> JSONValue {
        var entry = base.objectValue == nil ? .object([:]) : base
        entry["type"] = .string(type)
        entry["path"] = path.map(JSONValue.string)
        return entry
    }
}

/// A typed view over an OCI `config.json`. The whole document stays in `json`, so every
/// field crpod does not model (including unknown members of `linux` and `process`)
/// survives reading, patching and writing.
public struct OCISpec: Sendable, Equatable {
    public var json: JSONValue

    /// Wraps a parsed document; it must be a JSON object.
    public init(json: JSONValue) throws {
        guard json.objectValue != nil else { throw CoreError.notAnObject(context: "OCI spec") }
        self.json = json
    }

    /// Parses `config.json` bytes; `context` (a path, say) names the source in errors.
    public init(data: Data, context: String) throws {
        let json = try JSONValue.parse(data, context: context)
        guard json.objectValue != nil else { throw CoreError.notAnObject(context: context) }
        self.json = json
    }

    /// The document as pretty, key-sorted JSON.
    public func data() throws -> Data {
        try json.encoded(pretty: true)
    }
}

// MARK: - Fields

extension OCISpec {
    static let namespacesPath = ["linux", "namespaces"]

    public var namespaces: [OCINamespace] {
        get { namespaceEntries.compactMap(OCINamespace.init(json:)) }
        set {
            let old = namespaceEntries
            let entries = newValue.map { namespace in
                let base = old.first { $0["type"]?.stringValue == namespace.type }
                return namespace.json(over: base ?? .object([:]))
            }
            json.setValue(.array(entries), atPath: Self.namespacesPath)
        }
    }

    public var cgroupsPath: String? {
        get { string(at: ["linux", "cgroupsPath"]) }
        set { setString(newValue, at: ["linux", "cgroupsPath"]) }
    }

    /// The container's hostname; nil removes the key.
    public var hostname: String? {
        get { string(at: ["hostname"]) }
        set { setString(newValue, at: ["hostname"]) }
    }

    /// String-valued annotations; setting an empty dictionary removes the key.
    public var annotations: [String: String] {
        get { (json["annotations"]?.objectValue ?? [:]).compactMapValues(\.stringValue) }
        set {
            json["annotations"] = newValue.isEmpty ? nil : .object(newValue.mapValues(JSONValue.string))
        }
    }

    public var processArgs: [String] {
        get { json.value(atPath: ["process", "args"])?.stringArrayValue ?? [] }
        set { json.setValue(JSONValue(strings: newValue), atPath: ["process", "args"]) }
    }

    public var processEnv: [String] {
        get { json.value(atPath: ["process", "env"])?.stringArrayValue ?? [] }
        set { json.setValue(JSONValue(strings: newValue), atPath: ["process", "env"]) }
    }

    /// `root.path`; nil removes it.
    public var rootPath: String? {
        get { string(at: ["root", "path"]) }
        set { setString(newValue, at: ["root", "path"]) }
    }

    /// `linux.mountLabel` (SELinux context for mounts); nil removes it.
    public var mountLabel: String? {
        get { string(at: ["linux", "mountLabel"]) }
        set { setString(newValue, at: ["linux", "mountLabel"]) }
    }

    /// `process.selinuxLabel`; nil removes it.
    public var processLabel: String? {
        get { string(at: ["process", "selinuxLabel"]) }
        set { setString(newValue, at: ["process", "selinuxLabel"]) }
    }

    private func string(at path: [String]) -> String? {
        json.value(atPath: path)?.stringValue
    }

    private mutating func setString(_ value: String?, at path: [String]) {
        json.setValue(value.map(JSONValue.string), atPath: path)
    }

    private var namespaceEntries: [JSONValue] {
        json.value(atPath: Self.namespacesPath)?.arrayValue ?? []
    }
}

// MARK: - Namespaces

extension OCISpec {
    /// Joins the namespace at `path`: replaces the entry of that type (keeping its other
    /// members) or appends a new one.
    public mutating func joinNamespace(type: String, path: String) {
        setNamespace(OCINamespace(type: type, path: path))
    }

    /// Makes the container create a new namespace of `type` (an entry without a path).
    public mutating func makeNamespacePrivate(type: String) {
        setNamespace(OCINamespace(type: type, path: nil))
    }

    /// Removes every entry of `type`: the container then shares that namespace with runc's caller.
    public mutating func removeNamespace(type: String) {
        guard json.value(atPath: Self.namespacesPath) != nil else { return }
        let kept = namespaceEntries.filter { $0["type"]?.stringValue != type }
        json.setValue(.array(kept), atPath: Self.namespacesPath)
    }

    /// The path of the namespace of `type` the container joins, or nil (private or shared).
    public func namespacePath(type: String) -> String? {
        namespaces.first { $0.type == type }?.path
    }

    /// runc's rule: a mount is a bind when its type is `bind` or `bind`/`rbind` is among its options.
    public static func isBindMount(type: String?, options: [String]) -> Bool {
        type == "bind" || options.contains("bind") || options.contains("rbind")
    }

    public static func isBindMount(_ mount: JSONValue) -> Bool {
        isBindMount(type: mount["type"]?.stringValue, options: mount["options"]?.stringArrayValue ?? [])
    }

    /// The index in `mounts` of the bind mount at exactly `destination`, if there is one.
    public func bindMountIndex(destination: String) -> Int? {
        json["mounts"]?.arrayValue?.firstIndex { $0["destination"]?.stringValue == destination && Self.isBindMount($0) }
    }

    /// The host source of that bind mount.
    public func bindMountSource(destination: String) -> String? {
        bindMountIndex(destination: destination).flatMap { json["mounts"]?.arrayValue?[$0]["source"]?.stringValue }
    }

    private mutating func setNamespace(_ namespace: OCINamespace) {
        var entries = namespaceEntries
        if let index = entries.firstIndex(where: { $0["type"]?.stringValue == namespace.type }) {
            entries[index] = namespace.json(over: entries[index])
        } else {
            entries.append(namespace.json())
        }
        json.setValue(.array(entries), atPath: Self.namespacesPath)
    }
}
