#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Who is on the other end of a Unix socket (SO_PEERCRED), and the groups it is in.
public struct PeerCredentials: Sendable, Equatable, Codable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// The layout of the kernel's `struct ucred` (what SO_PEERCRED fills in).
    public struct Raw: Sendable {
        public var pid: Int32 = 0
        public var uid: UInt32 = 0
        public var gid: UInt32 = 0
        public init() {}
    }

    public static let socketOption = crpod_so_peercred()

    public init(_ raw: Raw) { self.init(pid: raw.pid, uid: raw.uid, gid: raw.gid) }

    /// The primary and supplementary groups (supplementary ones from /proc/<pid>/status).
    public func groups(procRoot: String = "/proc") -> Set<UInt32> {
        var groups: Set<UInt32> = [gid]
        guard let status = try? Files.readText("\(procRoot)/\(pid)/status", limit: 1 << 16) else { return groups }
        for line in status.split(separator: "\n") where line.hasPrefix("Groups:") {
            for field in line.dropFirst(7).split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                if let id = UInt32(field) { groups.insert(id) }
            }
        }
        return groups
    }

    /// The gid of a group name from /etc/group (nil when unknown).
    public static func groupID(named name: String, groupFile: String = "/etc/group") -> UInt32? {
        if let number = UInt32(name) { return number }
        guard let text = try? Files.readText(groupFile) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 3, fields[0] == name { return UInt32(fields[2]) }
        }
        return nil
    }
}
