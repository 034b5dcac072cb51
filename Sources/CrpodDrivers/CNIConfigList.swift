#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodLinux

/// A CNI network configuration list (spec 1.0 "Network configuration lists"): the network's
/// name and version and its plugins in order. Each plugin's object is kept whole (JSON
/// values), so fields crpod does not know reach the plugin unchanged. A single-plugin `.conf`
/// file loads as a list of one.
public struct CNINetworkConfigList: Codable, Sendable, Equatable {
    public var name: String
    public var cniVersion: String
    public var disableCheck: Bool
    public var plugins: [[String: JSONValue]]
    /// The file it came from, for messages.
    public var source: String

    /// Where the default configuration directory is (podman and CRI-O use the same).
    public static let defaultDirectory = "/etc/cni/net.d"
    /// Where Debian's containernetworking-plugins puts the plugins, then the upstream place.
    public static let defaultPluginDirectories = ["/usr/lib/cni", "/opt/cni/bin"]
    static let fileExtensions = [".conflist", ".conf", ".json"]

    public init(name: String, cniVersion: String, disableCheck: Bool = false, plugins: [[String: JSONValue]], source: String = "") {
        self.name = name
        self.cniVersion = cniVersion
        self.disableCheck = disableCheck
        self.plugins = plugins
        self.source = source
    }

    /// Parses a `.conflist` (with `plugins`) or a single plugin's `.conf` (with `type`).
    public static func parse(_ bytes: [UInt8], source: String) throws -> CNINetworkConfigList {
        let invalid = { (detail: String) in DriverError.cniConfigInvalid(path: source, detail: detail) }
        let value: JSONValue
        do { value = try JSONValue.parse(Data(bytes), context: source) } catch { throw invalid("not JSON: \(error)") }
        guard let object = value.objectValue else { throw invalid("not a JSON object") }
        guard let name = object["name"]?.stringValue, !name.isEmpty else { throw invalid("no \"name\"") }
        guard let version = object["cniVersion"]?.stringValue else { throw invalid("no \"cniVersion\"") }
        let plugins: [[String: JSONValue]]
        if let list = object["plugins"] {
            guard let array = list.arrayValue, !array.isEmpty else { throw invalid("\"plugins\" must be a non-empty array") }
            plugins = try array.enumerated().map { index, plugin in
                guard let plugin = plugin.objectValue else { throw invalid("plugin \(index) is not an object") }
                return plugin
            }
        } else {
            plugins = [object.filter { $0.key != "name" && $0.key != "cniVersion" }]
        }
        for (index, plugin) in plugins.enumerated() {
            guard let type = plugin["type"]?.stringValue, !type.isEmpty, !type.contains("/"), type != "..", type != "." else {
                throw invalid("plugin \(index) has no valid \"type\" (a plugin name without /)")
            }
        }
        return CNINetworkConfigList(name: name, cniVersion: version, disableCheck: object["disableCheck"]?.boolValue ?? false,
                                    plugins: plugins, source: source)
    }

    /// The configuration named `name` among the `.conflist`, `.conf` and `.json` files of
    /// `directory`, in file name order (as libcni searches). Files that do not parse are
    /// skipped, but named in the error when nothing matches.
    public static func load(name: String, directory: String) throws -> CNINetworkConfigList {
        let files: [String]
        do { files = try Files.listDirectory(directory) } catch {
            throw DriverError.cniNetworkNotFound(name: name, directory: directory, unreadable: ["\(directory): \(error)"])
        }
        var unreadable: [String] = []
        for file in files.sorted() where fileExtensions.contains(where: { file.hasSuffix($0) }) {
            let path = directory + "/" + file
            do {
                let list = try parse(try Files.read(path, limit: 1 << 20), source: path)
                if list.name == name { return list }
            } catch {
                unreadable.append("\(error)")
            }
        }
        throw DriverError.cniNetworkNotFound(name: name, directory: directory, unreadable: unreadable)
    }

    /// Whether a configuration named `name` exists in `directory`.
    public static func exists(name: String, directory: String) -> Bool {
        (try? load(name: name, directory: directory)) != nil
    }

    /// The spec's input to plugin `index`: its own object with the list's `name` and
    /// `cniVersion`, `prevResult` when given, and `runtimeConfig` holding the capability
    /// arguments the plugin declares in `capabilities` (and only those).
    public func pluginInput(_ index: Int, prevResult: JSONValue?, runtimeConfig: CNIRuntimeConfig) -> JSONValue {
        var object = plugins[index]
        object["name"] = .string(name)
        object["cniVersion"] = .string(cniVersion)
        object["prevResult"] = prevResult
        let declared = object["capabilities"]?.objectValue ?? [:]
        let offered = runtimeConfig.capabilityValues.filter { declared[$0.key]?.boolValue == true }
        object["runtimeConfig"] = offered.isEmpty ? nil : .object(offered)
        return .object(object)
    }

    /// Plugin `index`'s `type`: the executable's name.
    public func pluginType(_ index: Int) -> String { plugins[index]["type"]?.stringValue ?? "" }

    /// Whether any plugin declares `capability` (so a `--publish` has somewhere to go).
    public func declares(_ capability: String) -> Bool {
        plugins.contains { $0["capabilities"]?.objectValue?[capability]?.boolValue == true }
    }

    /// CHECK exists from spec 0.4.0 on and can be disabled per list.
    public var supportsCheck: Bool {
        guard !disableCheck else { return false }
        let parts = cniVersion.split(separator: ".").compactMap { Int($0) }
        return (parts.first ?? 0, parts.dropFirst().first ?? 0) >= (0, 4)
    }
}
