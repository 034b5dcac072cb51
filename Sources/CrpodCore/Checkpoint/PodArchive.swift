#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A whole-pod checkpoint archive: `pod.json` (the pod's description), then one directory per
/// member, `members/<name>/`, each in the per-container layout (`config.dump`, `spec.dump`,
/// `checkpoint/`, ...), and one `crpod-manifest.json` at the root, last, over every file.
/// So each member validates exactly like a single-container archive (`memberFacts`).
public enum PodArchiveMember {
    public static let description = "pod.json"
    public static let membersDirectory = "members"

    /// `members/<name>`: the directory of one member (a container name: no `/`, no `..`).
    public static func directory(ofMember name: String) -> String { membersDirectory + "/" + name }
}

/// `pod.json`: what the pod was, enough to create it again, and its members in restore order.
/// Unknown keys are ignored.
public struct PodArchiveDescription: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public struct Port: Codable, Sendable, Equatable, Hashable {
        public var hostPort: Int
        public var containerPort: Int
        /// `tcp` or `udp`.
        public var `protocol`: String
        public var hostIP: String?

        public init(hostPort: Int, containerPort: Int, protocol: String, hostIP: String? = nil) {
            self.hostPort = hostPort
            self.containerPort = containerPort
            self.protocol = `protocol`
            self.hostIP = hostIP
        }
    }

    public struct Network: Codable, Sendable, Equatable {
        /// `none`, `host` or `cni`.
        public var mode: String
        /// The CNI network's name (mode `cni`).
        public var name: String?
        /// The pod's addresses, CIDR notation (`10.89.0.5/24`).
        public var addresses: [String]
        public var mac: String?
        public var published: [Port]

        public init(mode: String, name: String? = nil, addresses: [String] = [], mac: String? = nil, published: [Port] = []) {
            self.mode = mode
            self.name = name
            self.addresses = addresses
            self.mac = mac
            self.published = published
        }
    }

    public struct Member: Codable, Sendable, Equatable {
        public var name: String
        public var id: String
        public init(name: String, id: String) {
            self.name = name
            self.id = id
        }
        public var directory: String { PodArchiveMember.directory(ofMember: name) }
    }

    public var version: Int
    public var name: String
    public var id: String
    /// /proc names of the namespaces the members shared.
    public var shares: [String]
    public var hostname: String?
    public var network: Network
    /// In the order they are restored (the order they were created in).
    public var members: [Member]
    public var checkpointedAt: String?
    /// The size of the pod's /dev/shm tmpfs in bytes; nil in archives of pods without one (and
    /// of crpod before pods had one).
    public var shmSize: UInt64? = nil

    public init(name: String, id: String, shares: [String], hostname: String?, network: Network, members: [Member],
                checkpointedAt: String? = nil, version: Int = PodArchiveDescription.currentVersion) {
        self.version = version
        self.name = name
        self.id = id
        self.shares = shares
        self.hostname = hostname
        self.network = network
        self.members = members
        self.checkpointedAt = checkpointedAt
    }

    public init(data: Data) throws {
        do {
            self = try JSONDecoder().decode(PodArchiveDescription.self, from: data)
        } catch {
            throw CoreError.invalidJSON(context: PodArchiveMember.description, detail: describeCodingError(error))
        }
    }

    /// Pretty, key-sorted JSON.
    public func data() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do { return try encoder.encode(self) } catch {
            throw CoreError.jsonEncodingFailed(detail: describeCodingError(error))
        }
    }
}

/// What a scan learned of a whole-pod archive: the archive as a whole, `pod.json`, and each
/// listed member's view (`ArchiveFacts.memberFacts` with its metadata read).
public struct PodArchiveFacts: Sendable, Equatable {
    public var whole: ArchiveFacts
    public var description: PodArchiveDescription?
    public var descriptionError: String?
    /// The top-level `network.status` (podman's shape); nil when absent (archives before it).
    public var networkStatus: NetworkStatus?
    public var networkStatusError: String?
    /// By member name; only members whose name is a valid container name.
    public var members: [String: ArchiveFacts]

    /// From the scanned members and the metadata contents kept (canonical name → bytes).
    public init(whole: ArchiveFacts, contents: [String: [UInt8]]) {
        self.whole = whole
        members = [:]
        if let bytes = contents[CheckpointMember.networkStatus] {
            do { networkStatus = try NetworkStatus(data: Data(bytes)) } catch { networkStatusError = "\(error)" }
        }
        guard let bytes = contents[PodArchiveMember.description] else {
            descriptionError = "the archive has no \(PodArchiveMember.description)"
            return
        }
        do { description = try PodArchiveDescription(data: Data(bytes)) } catch { descriptionError = "\(error)" }
        for member in description?.members ?? [] where (try? NameRule.validate(member.name, what: "member name")) != nil {
            var view = whole.memberFacts(directory: member.directory)
            view.readMetadata(contents, prefix: member.directory)
            members[member.name] = view
        }
    }
}

extension ArchiveFacts {
    /// Whether the archive is a whole-pod one (it holds `pod.json`).
    public var isPodArchive: Bool { member(named: PodArchiveMember.description) != nil }

    /// Reads the metadata members a validator needs from `contents` (canonical name → bytes),
    /// each looked up under `prefix` (a member's directory, or "" for the root).
    public mutating func readMetadata(_ contents: [String: [UInt8]], prefix: String = "") {
        let at = { (name: String) in contents[prefix.isEmpty ? name : prefix + "/" + name] }
        if let bytes = at(CheckpointMember.config) { readConfig(Data(bytes)) }
        if let bytes = at(CheckpointMember.spec) { readSpec(Data(bytes)) }
        if let bytes = at(CheckpointMember.manifest) { readManifest(Data(bytes)) }
        if let bytes = at(CheckpointMember.statsDump) { readStats(bytes) }
        if let bytes = at(CheckpointMember.inventory) { readInventory(bytes) }
        if let bytes = at(CheckpointMember.dumpLog) { readDumpLog(String(decoding: bytes, as: UTF8.self)) }
    }

    /// The view of one member's directory as if it were a single-container archive: its
    /// members with `directory/` stripped, the root manifest's entries for them, and the
    /// manifest as the last member (the root manifest is checked once, over the whole archive).
    public func memberFacts(directory: String) -> ArchiveFacts {
        let prefix = directory + "/"
        let strip = { (name: String) -> String? in
            let canonical = CheckpointMember.canonical(name)
            return canonical.hasPrefix(prefix) ? String(canonical.dropFirst(prefix.count)) : nil
        }
        var view = ArchiveFacts(compression: compression)
        view.members = members.compactMap { member in
            guard let name = strip(member.name), !name.isEmpty else { return nil }
            var stripped = member
            stripped.name = name
            return stripped
        }
        if let manifest {
            let entries = manifest.members.compactMap { entry in strip(entry.name).map { ArchiveManifestModel.Entry(name: $0, size: entry.size, sha256: entry.sha256) } }
            view.manifest = ArchiveManifestModel(version: manifest.version, members: entries)
        }
        view.members.append(ArchiveMember(name: CheckpointMember.manifest, type: .file))
        return view
    }
}
