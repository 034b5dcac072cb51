#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodLinux

/// crpod's on-disk state: one JSON file per pod and per container, written atomically,
/// mutated only under one exclusive lock so concurrent crpod processes never corrupt it.
///
///     <root>/pods/<id>.json
///     <root>/containers/<id>/container.json   (+ bundle/, upper/, work/, rootfs/, ctr.log)
///     <root>/crpod.lock
///     <runRoot>/runc                           (the runtime's --root)
public struct StateStore: Sendable {
    public let root: String
    public let runRoot: String

    public init(root: String, runRoot: String) {
        self.root = root
        self.runRoot = runRoot
    }

    public var podsDirectory: String { root + "/pods" }
    public var containersDirectory: String { root + "/containers" }
    public func containerDirectory(_ id: String) -> String { containersDirectory + "/" + id }

    public func ensureLayout() throws {
        try step("create state directories under \(root)") {
            for dir in [root, podsDirectory, containersDirectory, runRoot, runRoot + "/runc"] {
                try Files.makeDirectories(dir, mode: 0o700)
            }
        }
    }

    /// Runs `body` holding the state lock.
    public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try ensureLayout()
        return try await FileLock(path: root + "/crpod.lock").withLock(body)
    }

    // MARK: pods

    public func pods() throws -> [PodRecord] {
        try records(in: podsDirectory, suffix: ".json").map { try load(PodRecord.self, from: $0) }
            .sorted { $0.created < $1.created }
    }

    public func save(_ pod: PodRecord) throws {
        try write(pod, to: "\(podsDirectory)/\(pod.id).json")
    }

    public func deletePod(_ id: String) throws {
        try step("remove pod state \(id)") { try Files.removeTree("\(podsDirectory)/\(id).json") }
    }

    public func pod(_ reference: String) throws -> PodRecord {
        let all = try pods()
        guard let found = try resolve(reference, in: all, kind: "pod", id: \.id, name: \.name) else {
            throw EngineError.podNotFound(reference)
        }
        return found
    }

    // MARK: containers

    public func containers() throws -> [ContainerRecord] {
        try records(in: containersDirectory, suffix: nil)
            .map { $0 + "/container.json" }
            .filter(Files.exists)
            .map { try load(ContainerRecord.self, from: $0) }
            .sorted { $0.created < $1.created }
    }

    public func save(_ container: ContainerRecord) throws {
        try write(container, to: containerDirectory(container.id) + "/container.json")
    }

    public func container(_ reference: String) throws -> ContainerRecord {
        let all = try containers()
        guard let found = try resolve(reference, in: all, kind: "container", id: \.id, name: \.name) else {
            throw EngineError.containerNotFound(reference)
        }
        return found
    }

    // MARK: helpers

    /// A name, a full id, or an unambiguous id prefix (as podman accepts).
    func resolve<R>(_ reference: String, in all: [R], kind: String, id: KeyPath<R, String>, name: KeyPath<R, String>) throws -> R? {
        if let exact = all.first(where: { $0[keyPath: name] == reference || $0[keyPath: id] == reference }) {
            return exact
        }
        guard reference.count >= 3, reference.allSatisfy(\.isHexDigit) else { return nil }
        let matches = all.filter { $0[keyPath: id].hasPrefix(reference) }
        if matches.count > 1 {
            throw EngineError.ambiguousReference(kind: kind, reference: reference, matches: matches.map { String($0[keyPath: id].prefix(12)) })
        }
        return matches.first
    }

    private func records(in directory: String, suffix: String?) throws -> [String] {
        guard Files.isDirectory(directory) else { return [] }
        let names = try step("list \(directory)") { try Files.listDirectory(directory) }
        return names.filter { name in
            !name.hasPrefix(".") && !name.contains(".tmp-") && (suffix.map { name.hasSuffix($0) } ?? true)
        }.map { directory + "/" + $0 }
    }

    private func load<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        let bytes = try step("read \(path)") { try Files.read(path) }
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch {
            throw EngineError.stateCorrupt(path: path, detail: "\(error)")
        }
    }

    private func write<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(value)
        try step("write \(path)") { try Files.writeAtomically(path, Array(data), mode: 0o600) }
    }
}

/// RFC 3339 UTC timestamp for records (sortable as text).
func timestamp() -> String {
    Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
}
