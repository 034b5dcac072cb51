/// What a device rule matches apart from its access: a class and numbers (nil: any).
public struct DeviceMatch: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let type: DeviceType
    public let major: Int64?
    public let minor: Int64?

    public init(type: DeviceType, major: Int64?, minor: Int64?) {
        self.type = type
        self.major = major
        self.minor = minor
    }

    /// runc's order: by major, then minor (a wildcard first), then type (`b` before `c`).
    public static func < (lhs: DeviceMatch, rhs: DeviceMatch) -> Bool {
        (lhs.major ?? -1, lhs.minor ?? -1, lhs.type.rawValue) < (rhs.major ?? -1, rhs.minor ?? -1, rhs.type.rawValue)
    }

    public var description: String { "\(type.rawValue) \(major.map(String.init) ?? "*"):\(minor.map(String.init) ?? "*")" }
}

/// One line to write into a cgroup v1 devices directory.
public struct DeviceCgroupWrite: Sendable, Equatable, CustomStringConvertible {
    public static let allowFile = "devices.allow"
    public static let denyFile = "devices.deny"
    public let file: String
    public let line: String

    public var description: String { "\(file) <- \(line)" }
}

/// The state of a devices cgroup, computed the way runc 1.1.5's devices emulator
/// (libcontainer/cgroups/devices) computes it from a rule list: a default (allow-all or
/// deny-all) and exceptions to it. Both the cgroup v1 writes and the cgroup v2 eBPF filter are
/// derived from this one value, so both layouts enforce the same policy, including runc's
/// hardening against denying part of a wildcard (which cgroup v1 silently ignores).
public struct DeviceCgroupState: Sendable, Equatable {
    /// True for an allow-all policy whose exceptions deny; false for deny-all with allow exceptions.
    public private(set) var defaultAllow: Bool
    public private(set) var exceptions: [DeviceMatch: DeviceAccess]

    public init(defaultAllow: Bool = false, exceptions: [DeviceMatch: DeviceAccess] = [:]) {
        self.defaultAllow = defaultAllow
        self.exceptions = exceptions.filter { !$0.value.isEmpty }
    }

    /// `rules` applied in order to a deny-all cgroup (runc's buildEmulator).
    public init(rules: [DeviceRule]) throws(DeviceRuleError) {
        self.init()
        for rule in rules { try apply(rule) }
    }

    /// One rule, as runc's Emulator.Apply: a type `a` rule resets the policy to allow-all or
    /// deny-all; another rule adds an exception when its action differs from the default,
    /// and removes access from an exception when it is the default's.
    public mutating func apply(_ rule: DeviceRule) throws(DeviceRuleError) {
        guard rule.type != .all else { return self = DeviceCgroupState(defaultAllow: rule.allow) }
        let valid = 0...Int64(Int32.max)
        guard rule.major.map(valid.contains) ?? true, rule.minor.map(valid.contains) ?? true else {
            throw .numberOutOfRange(rule: rule.description)
        }
        let match = DeviceMatch(type: rule.type, major: rule.major, minor: rule.minor)
        if rule.allow != defaultAllow {
            let merged = (exceptions[match] ?? []).union(rule.access)
            if !merged.isEmpty { exceptions[match] = merged }
            return
        }
        try refuseHolePunch(match, access: rule.access, rule: rule)
        let left = (exceptions[match] ?? []).subtracting(rule.access)
        exceptions[match] = left.isEmpty ? nil : left
    }

    /// runc's rmRule check: the access to remove must not overlap a wildcard exception that
    /// covers this match only partly.
    private func refuseHolePunch(_ match: DeviceMatch, access: DeviceAccess, rule: DeviceRule) throws(DeviceRuleError) {
        let wildcards = [
            DeviceMatch(type: match.type, major: nil, minor: match.minor),
            DeviceMatch(type: match.type, major: match.major, minor: nil),
            DeviceMatch(type: match.type, major: nil, minor: nil),
        ]
        for wildcard in wildcards where wildcard != match {
            let existing = exceptions[wildcard] ?? []
            if !existing.intersection(access).isEmpty {
                throw .cannotPunchHole(rule: rule.description, wildcard: DeviceRule(
                    type: wildcard.type, major: wildcard.major, minor: wildcard.minor, access: existing, allow: !defaultAllow).description)
            }
        }
    }

    /// The exceptions as rules (their action is the opposite of the default), in runc's order.
    public var exceptionRules: [DeviceRule] {
        exceptions.keys.sorted().map { match in
            DeviceRule(type: match.type, major: match.major, minor: match.minor, access: exceptions[match] ?? [], allow: !defaultAllow)
        }
    }

    /// runc's Emulator.Rules(): what turns a deny-all cgroup into this state — for allow-all,
    /// `a *:* rwm` allowed first; then the exceptions.
    public var minimalRules: [DeviceRule] {
        (defaultAllow ? [DeviceRule(type: .all, access: .rwm, allow: true)] : []) + exceptionRules
    }

    /// The cgroup v1 writes that set this state in any devices cgroup whose parent permits it:
    /// the default first (`a *:* rwm` to devices.deny, or to devices.allow), which clears every
    /// inherited exception, then each exception. For a new cgroup under an allow-all parent
    /// these are exactly the lines runc 1.1.5 writes (its transition from a black-list).
    public var v1Writes: [DeviceCgroupWrite] {
        let file = { (allow: Bool) in allow ? DeviceCgroupWrite.allowFile : DeviceCgroupWrite.denyFile }
        let reset = DeviceRule(type: .all, access: .rwm, allow: defaultAllow)
        return ([reset] + exceptionRules).map { DeviceCgroupWrite(file: file($0.allow), line: $0.cgroupLine) }
    }

    /// Whether a cgroup v1 `devices.list` shows this state. As runc's final check: a deny-all
    /// state must match exactly; for allow-all the list shows only the mode (`a *:* rwm`), not
    /// the denied exceptions.
    public func isShown(by list: DeviceCgroupState) -> Bool {
        defaultAllow ? list.defaultAllow : list == self
    }

    /// Parses a cgroup v1 `devices.list` (runc's EmulatorFromList): `a *:* rwm` means
    /// allow-all, other lines are allowed exceptions of a deny-all cgroup.
    public init(devicesList text: String) throws(DeviceRuleError) {
        self.init()
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == ":" }).map(String.init)
            guard fields.count == 4, fields[0].count == 1, let type = fields[0].first.flatMap({ DeviceType(rawValue: $0) }),
                  let access = DeviceAccess(letters: fields[3]), !access.isEmpty,
                  let major = Self.listedNumber(fields[1]), let minor = Self.listedNumber(fields[2])
            else { throw .unreadableDevicesList(line: String(line)) }
            try apply(DeviceRule(type: type, major: major, minor: minor, access: access, allow: true))
        }
    }

    /// `*` → wildcard (nil inside), a decimal → the number; nil when it is neither.
    private static func listedNumber(_ text: String) -> Int64?? {
        if text == "*" { return .some(nil) }
        return UInt32(text).map { .some(Int64($0)) }
    }
}
