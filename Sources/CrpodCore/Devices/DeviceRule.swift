/// Device cgroup rules, as the OCI spec's `linux.resources.devices` states them and as runc
/// (libcontainer/devices, specconv) reads them. Pure: no I/O.

/// The device class a rule matches: `a` (every device: the rule resets the whole policy),
/// `c` (character) or `b` (block). Raw values are the OCI and cgroup v1 letters.
public enum DeviceType: Character, Sendable, Hashable, Comparable {
    case all = "a"
    case block = "b"
    case char = "c"

    /// runc sorts rules by this rune (`b` before `c`).
    public static func < (lhs: DeviceType, rhs: DeviceType) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A subset of `rwm`: read, write, mknod.
public struct DeviceAccess: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0b111 }

    public static let read = DeviceAccess(rawValue: 1)
    public static let write = DeviceAccess(rawValue: 2)
    public static let mknod = DeviceAccess(rawValue: 4)
    public static let rwm: DeviceAccess = [.read, .write, .mknod]

    /// Parses letters of `rwm` (any order, repeats allowed, as runc's Permissions); nil for
    /// another letter.
    public init?(letters: String) {
        var access: DeviceAccess = []
        for letter in letters {
            switch letter {
            case "r": access.insert(.read)
            case "w": access.insert(.write)
            case "m": access.insert(.mknod)
            default: return nil
            }
        }
        self = access
    }

    /// The letters in runc's order (`rwm`, `rw`, `m`, …).
    public var description: String {
        (contains(.read) ? "r" : "") + (contains(.write) ? "w" : "") + (contains(.mknod) ? "m" : "")
    }
}

/// One device cgroup rule. A nil major or minor is a wildcard (`*`); for type `a` the numbers
/// and the access are ignored, as by runc and the kernel.
public struct DeviceRule: Sendable, Hashable, CustomStringConvertible {
    public var type: DeviceType
    public var major: Int64?
    public var minor: Int64?
    public var access: DeviceAccess
    public var allow: Bool

    public init(type: DeviceType, major: Int64? = nil, minor: Int64? = nil, access: DeviceAccess, allow: Bool) {
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access
        self.allow = allow
    }

    /// The line cgroup v1's devices.allow / devices.deny take: `c 1:3 rwm`, `a *:* rwm`.
    public var cgroupLine: String {
        "\(type.rawValue) \(major.map(String.init) ?? "*"):\(minor.map(String.init) ?? "*") \(access)"
    }

    public var description: String { (allow ? "allow " : "deny ") + cgroupLine }
}

/// Why device rules cannot be applied. Each case names the rule (by its index in
/// `linux.resources.devices`, or its cgroup line) so the spec can be fixed.
public enum DeviceRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `linux.resources.devices` (or one entry of it) is not the JSON shape the OCI spec defines.
    case malformed(index: Int?, detail: String)
    /// A `type` other than `a`, `b`, `c` (runc: "invalid cgroup device type").
    case invalidType(index: Int, type: String)
    /// An empty `access` (runc: "device access at N field cannot be empty").
    case emptyAccess(index: Int)
    /// An `access` with letters other than `rwm`.
    case invalidAccess(index: Int, access: String)
    /// A major or minor that is neither a wildcard (absent, null, -1) nor a device number the
    /// eBPF filter can compare (0…2³¹-1; Linux numbers are 12 and 20 bits).
    case invalidNumber(index: Int, field: String, value: String)
    /// Denying part of a wildcard exception in an allow-all policy, which cgroup v1 would
    /// silently ignore (runc refuses it the same way).
    case cannotPunchHole(rule: String, wildcard: String)
    /// A rule built in code (not decoded) with a major or minor outside 0…2³¹-1.
    case numberOutOfRange(rule: String)
    /// A cgroup v1 `devices.list` line that is not `<a|b|c> <major|*>:<minor|*> <rwm>`.
    case unreadableDevicesList(line: String)

    public var description: String {
        let at: (Int) -> String = { "linux.resources.devices[\($0)]" }
        switch self {
        case let .malformed(index, detail):
            return "\(index.map(at) ?? "linux.resources.devices"): \(detail)"
        case let .invalidType(index, type):
            return "\(at(index)): invalid cgroup device type \"\(type)\" (want a, b or c)"
        case let .emptyAccess(index):
            return "\(at(index)): device access cannot be empty"
        case let .invalidAccess(index, access):
            return "\(at(index)): device access \"\(access)\" has letters other than r, w, m"
        case let .invalidNumber(index, field, value):
            return "\(at(index)): invalid device \(field) \(value) (want 0…2147483647, or none for any)"
        case let .cannotPunchHole(rule, wildcard):
            return "device rule \(rule) is not supported by the devices cgroup (cannot punch a hole in the wildcard rule \(wildcard))"
        case let .numberOutOfRange(rule):
            return "device rule \(rule): major and minor must be 0…2147483647"
        case let .unreadableDevicesList(line):
            return "cannot parse devices.list line \"\(line)\""
        }
    }
}
