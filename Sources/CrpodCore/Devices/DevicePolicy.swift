/// The device rules runc 1.1.5 would give a container: the spec's `linux.resources.devices`
/// in order, then runc's built-in allowed devices (specconv.AllowedDevices), minus a built-in
/// device whose path the spec's `linux.devices` lists (runc lets the spec's node take its
/// place, and that node gets no cgroup rule of its own). These rules cannot be turned off by
/// the spec; runc appends them to every container.
public enum DevicePolicy {
    /// One of runc's built-in devices: a rule, and the node path it stands for (none for the
    /// mknod wildcards, /dev/pts, /dev/ptmx and tun, which runc does not deduplicate).
    public struct BuiltInDevice: Sendable, Equatable {
        public let path: String?
        public let rule: DeviceRule
    }

    /// runc 1.1.5 libcontainer/specconv AllowedDevices, in its order.
    public static let runcBuiltIn: [BuiltInDevice] = [
        BuiltInDevice(path: nil, rule: DeviceRule(type: .char, access: .mknod, allow: true)),
        BuiltInDevice(path: nil, rule: DeviceRule(type: .block, access: .mknod, allow: true)),
        BuiltInDevice(path: "/dev/null", rule: char(1, 3)),
        BuiltInDevice(path: "/dev/random", rule: char(1, 8)),
        BuiltInDevice(path: "/dev/full", rule: char(1, 7)),
        BuiltInDevice(path: "/dev/tty", rule: char(5, 0)),
        BuiltInDevice(path: "/dev/zero", rule: char(1, 5)),
        BuiltInDevice(path: "/dev/urandom", rule: char(1, 9)),
        BuiltInDevice(path: nil, rule: char(136, nil)),  // /dev/pts/*
        BuiltInDevice(path: nil, rule: char(5, 2)),  // /dev/ptmx
        BuiltInDevice(path: nil, rule: char(10, 200)),  // tuntap
    ]

    private static func char(_ major: Int64, _ minor: Int64?) -> DeviceRule {
        DeviceRule(type: .char, major: major, minor: minor, access: .rwm, allow: true)
    }

    /// The spec's rules followed by runc's built-in ones, deduplicated against `linux.devices`.
    public static func runcRules(for spec: OCISpec) throws(DeviceRuleError) -> [DeviceRule] {
        let specRules = try rules(fromResources: spec.json.value(atPath: ["linux", "resources", "devices"]))
        let nodePaths = Set((spec.json.value(atPath: ["linux", "devices"])?.arrayValue ?? []).compactMap { $0["path"]?.stringValue })
        return specRules + runcBuiltIn.filter { device in device.path.map { !nodePaths.contains($0) } ?? true }.map(\.rule)
    }

    /// Decodes `linux.resources.devices` (nil or null: no rules) as runc's specconv does: a
    /// missing or empty type is `a`, a missing, null or -1 major/minor a wildcard, a missing
    /// `allow` false.
    public static func rules(fromResources value: JSONValue?) throws(DeviceRuleError) -> [DeviceRule] {
        guard let value, !value.isNull else { return [] }
        guard let entries = value.arrayValue else { throw .malformed(index: nil, detail: "not an array") }
        var rules: [DeviceRule] = []
        for (index, entry) in entries.enumerated() { rules.append(try rule(entry, index: index)) }
        return rules
    }

    static func rule(_ entry: JSONValue, index: Int) throws(DeviceRuleError) -> DeviceRule {
        guard entry.objectValue != nil else { throw .malformed(index: index, detail: "not an object") }
        let typeText = try string(entry["type"], field: "type", index: index) ?? ""
        let type: DeviceType? = typeText.isEmpty ? .all : typeText.count == 1 ? typeText.first.flatMap(DeviceType.init(rawValue:)) : nil
        guard let type else { throw .invalidType(index: index, type: typeText) }
        let accessText = try string(entry["access"], field: "access", index: index) ?? ""
        guard !accessText.isEmpty else { throw .emptyAccess(index: index) }
        guard let access = DeviceAccess(letters: accessText) else { throw .invalidAccess(index: index, access: accessText) }
        let allowValue = entry["allow"] ?? .null
        guard allowValue.isNull || allowValue.boolValue != nil else { throw .malformed(index: index, detail: "allow is not a boolean") }
        return DeviceRule(type: type, major: try number(entry["major"], field: "major", index: index),
                          minor: try number(entry["minor"], field: "minor", index: index),
                          access: access, allow: allowValue.boolValue ?? false)
    }

    private static func string(_ value: JSONValue?, field: String, index: Int) throws(DeviceRuleError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let text = value.stringValue else { throw .malformed(index: index, detail: "\(field) is not a string") }
        return text
    }

    /// nil for a wildcard (absent, null, -1).
    private static func number(_ value: JSONValue?, field: String, index: Int) throws(DeviceRuleError) -> Int64? {
        guard let value, !value.isNull else { return nil }
        guard let number = value.int64Value else { throw .invalidNumber(index: index, field: field, value: value.stringValue.map { "\"\($0)\"" } ?? "(not an integer)") }
        if number == -1 { return nil }
        guard (0...Int64(Int32.max)).contains(number) else { throw .invalidNumber(index: index, field: field, value: String(number)) }
        return number
    }
}
