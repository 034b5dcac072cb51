import Testing
@testable import CrpodCore

/// The device rules of a spec, merged with runc 1.1.5's built-in devices, and the cgroup state
/// and v1 writes they give — checked against runc's own code (specconv, the devices emulator).
@Suite("device rules: spec decoding, runc's built-in devices, the emulated cgroup state")
struct DevicePolicyTests {
    static func crpodSpec(devices: JSONValue? = nil) throws -> OCISpec {
        var spec = try SpecBuilder.build(ContainerSpecRequest(args: ["sh"], rootfsPath: "/r", cgroupsPath: "/c"))
        if let devices { spec.json.setValue(devices, atPath: ["linux", "devices"]) }
        return spec
    }

    /// runc 1.1.5 writes these to a new container cgroup under an allow-all parent, for crpod's
    /// spec (`deny a rwm` + the built-in devices), in this order.
    static let crpodV1Writes = [
        "devices.deny a *:* rwm", "devices.allow b *:* m", "devices.allow c *:* m", "devices.allow c 1:3 rwm",
        "devices.allow c 1:5 rwm", "devices.allow c 1:7 rwm", "devices.allow c 1:8 rwm", "devices.allow c 1:9 rwm",
        "devices.allow c 5:0 rwm", "devices.allow c 5:2 rwm", "devices.allow c 10:200 rwm", "devices.allow c 136:* rwm",
    ]

    @Test func crpodsSpecIsDenyAllThenRuncsBuiltInDevices() throws {
        let rules = try DevicePolicy.runcRules(for: Self.crpodSpec())
        #expect(rules.first == DeviceRule(type: .all, access: .rwm, allow: false))
        #expect(Array(rules.dropFirst()) == DevicePolicy.runcBuiltIn.map(\.rule))
        #expect(rules.map(\.description).dropFirst(3).prefix(2) == ["allow c 1:3 rwm", "allow c 1:8 rwm"], "runc's order: null, random")
        let state = try DeviceCgroupState(rules: rules)
        #expect(!state.defaultAllow)
        #expect(state.v1Writes.map { "\($0.file) \($0.line)" } == Self.crpodV1Writes)
        #expect(state.minimalRules.count == 11, "runc's Rules() has no wildcard for a deny-all state")
    }

    @Test func aSpecDeviceNodeReplacesTheBuiltInRuleOfTheSamePath() throws {
        let spec = try Self.crpodSpec(devices: [["path": "/dev/null", "type": "c", "major": 1, "minor": 3]])
        let rules = try DevicePolicy.runcRules(for: spec)
        #expect(!rules.contains(DeviceRule(type: .char, major: 1, minor: 3, access: .rwm, allow: true)),
                "runc drops the built-in /dev/null rule and gives the spec's node none")
        #expect(rules.count == 1 + DevicePolicy.runcBuiltIn.count - 1)
    }

    /// A podman spec of `--device /dev/fuse`: the node in linux.devices and its allow rule.
    @Test func aPodmanDeviceIsAllowedNextToTheBuiltInOnes() throws {
        var spec = try Self.crpodSpec(devices: [["path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0]])
        spec.json.setValue([["allow": false, "access": "rwm"], ["allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"]],
                           atPath: ["linux", "resources", "devices"])
        let state = try DeviceCgroupState(rules: DevicePolicy.runcRules(for: spec))
        #expect(state.exceptions[DeviceMatch(type: .char, major: 10, minor: 229)] == .rwm)
        #expect(state.exceptions.count == DevicePolicy.runcBuiltIn.count + 1 && !state.defaultAllow)
    }

    @Test func decodesAsRuncsSpecconv() throws {
        let rules = try DevicePolicy.rules(fromResources: [
            ["allow": false, "access": "rwm"],
            ["allow": true, "type": "c", "major": 4, "minor": .null, "access": "wr"],
            ["allow": true, "type": "b", "major": -1, "minor": 7, "access": "mmr"],
            ["type": "", "access": "m"],
        ])
        #expect(rules == [
            DeviceRule(type: .all, access: .rwm, allow: false),
            DeviceRule(type: .char, major: 4, access: [.read, .write], allow: true),
            DeviceRule(type: .block, minor: 7, access: [.read, .mknod], allow: true),
            DeviceRule(type: .all, access: .mknod, allow: false),
        ])
        #expect(rules[1].cgroupLine == "c 4:* rw" && rules[2].cgroupLine == "b *:7 rm")
        #expect(try DevicePolicy.rules(fromResources: nil) == [] && DevicePolicy.rules(fromResources: .null) == [])
    }

    static let malformedRules: [(JSONValue, DeviceRuleError)] = [
        (["type": "p", "access": "rwm"], .invalidType(index: 0, type: "p")),
        (["type": "cc", "access": "rwm"], .invalidType(index: 0, type: "cc")),
        (["type": "c"], .emptyAccess(index: 0)),
        (["type": "c", "access": ""], .emptyAccess(index: 0)),
        (["type": "c", "access": "rwx"], .invalidAccess(index: 0, access: "rwx")),
        (["type": "c", "major": -2, "access": "r"], .invalidNumber(index: 0, field: "major", value: "-2")),
        (["type": "c", "minor": 2_147_483_648, "access": "r"], .invalidNumber(index: 0, field: "minor", value: "2147483648")),
        (["type": "c", "major": "1", "access": "r"], .invalidNumber(index: 0, field: "major", value: "\"1\"")),
        (["type": 99, "access": "r"], .malformed(index: 0, detail: "type is not a string")),
        (["type": "c", "access": "r", "allow": "yes"], .malformed(index: 0, detail: "allow is not a boolean")),
        ("c 1:3 rwm", .malformed(index: 0, detail: "not an object")),
    ]

    @Test("malformed rules are refused with the index and the fault", arguments: malformedRules)
    func refusesMalformedRules(entry: JSONValue, expected: DeviceRuleError) {
        #expect(throws: expected) { try DevicePolicy.rules(fromResources: [entry]) }
    }

    @Test func anAllowAllSpecKeepsOnlyTheDenials() throws {
        // `a` allow turns the policy into allow-all; the built-in allows then remove nothing.
        let state = try DeviceCgroupState(rules: [
            DeviceRule(type: .all, access: .rwm, allow: true),
            DeviceRule(type: .char, major: 1, minor: 1, access: .rwm, allow: false),
            DeviceRule(type: .char, major: 1, minor: 1, access: .write, allow: true),
        ] + DevicePolicy.runcBuiltIn.map(\.rule))
        #expect(state.defaultAllow)
        #expect(state.exceptionRules == [DeviceRule(type: .char, major: 1, minor: 1, access: [.read, .mknod], allow: false)])
        #expect(state.minimalRules.map(\.description) == ["allow a *:* rwm", "deny c 1:1 rm"])
        #expect(state.v1Writes.map(\.description) == ["devices.allow <- a *:* rwm", "devices.deny <- c 1:1 rm"])
    }

    @Test func rulesMergeAndALaterWildcardResetsEverything() throws {
        var state = try DeviceCgroupState(rules: [
            DeviceRule(type: .char, major: 4, minor: 1, access: .read, allow: true),
            DeviceRule(type: .char, major: 4, minor: 1, access: .write, allow: true),
            DeviceRule(type: .char, major: 4, minor: 1, access: .read, allow: false),
        ])
        #expect(state.exceptionRules == [DeviceRule(type: .char, major: 4, minor: 1, access: .write, allow: true)])
        try state.apply(DeviceRule(type: .all, major: 3, access: .mknod, allow: false))
        #expect(state == DeviceCgroupState(), "type a ignores its numbers and access and resets to deny-all")
    }

    @Test func refusesToPunchAHoleInAWildcard() throws {
        var allowAll = DeviceCgroupState(defaultAllow: true)
        try allowAll.apply(DeviceRule(type: .char, major: 1, access: .rwm, allow: false))
        #expect(throws: DeviceRuleError.cannotPunchHole(rule: "allow c 1:5 r", wildcard: "deny c 1:* rwm")) {
            try allowAll.apply(DeviceRule(type: .char, major: 1, minor: 5, access: .read, allow: true))
        }
        var denyAll = try DeviceCgroupState(rules: [DeviceRule(type: .char, access: .mknod, allow: true)])
        #expect(throws: DeviceRuleError.cannotPunchHole(rule: "deny c 1:3 m", wildcard: "allow c *:* m")) {
            try denyAll.apply(DeviceRule(type: .char, major: 1, minor: 3, access: .mknod, allow: false))
        }
        try denyAll.apply(DeviceRule(type: .char, major: 1, minor: 3, access: .read, allow: false))  // no overlap: a no-op
        #expect(denyAll.exceptionRules.count == 1)
        #expect(throws: DeviceRuleError.numberOutOfRange(rule: "allow c 4294967296:* r")) {
            try denyAll.apply(DeviceRule(type: .char, major: 1 << 32, access: .read, allow: true))
        }
    }

    @Test func readsDevicesListAsRuncsFinalCheck() throws {
        let state = try DeviceCgroupState(rules: DevicePolicy.runcRules(for: Self.crpodSpec()))
        // As the kernel lists crpod's cgroup (exceptions in the order they were added).
        let listed = Self.crpodV1Writes.dropFirst().map { String($0.split(separator: " ", maxSplits: 1)[1]) }.joined(separator: "\n") + "\n"
        #expect(state.isShown(by: try DeviceCgroupState(devicesList: listed)))
        #expect(!state.isShown(by: try DeviceCgroupState(devicesList: "a *:* rwm\n")), "an allow-all cgroup is not this policy")
        #expect(!state.isShown(by: try DeviceCgroupState(devicesList: "c 1:3 rwm\n")), "a missing exception is seen")
        #expect(DeviceCgroupState(defaultAllow: true).isShown(by: try DeviceCgroupState(devicesList: "a *:* rwm\n")))
        #expect(try DeviceCgroupState(devicesList: "") == DeviceCgroupState())
        #expect(throws: DeviceRuleError.unreadableDevicesList(line: "c 1-3 rwm")) { try DeviceCgroupState(devicesList: "c 1-3 rwm") }
        #expect(throws: DeviceRuleError.unreadableDevicesList(line: "c 1:3 rwx")) { try DeviceCgroupState(devicesList: "c 1:3 rwx") }
    }
}
