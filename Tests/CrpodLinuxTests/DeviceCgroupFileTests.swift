import CrpodCore
import SystemPackage
import Testing
@testable import CrpodLinux

/// L1: DeviceCgroup.apply on a cgroup v1 devices hierarchy that is a temp directory (the mount
/// table names it), so the writes and runc's final devices.list check run without root.
@Suite("device cgroup v1 writes on a temp tree")
struct DeviceCgroupFileTests {
    static let crpodRules = [DeviceRule(type: .all, access: .rwm, allow: false)] + DevicePolicy.runcBuiltIn.map(\.rule)

    static func layout(devicesAt root: String, controller: String = "devices") throws -> CgroupLayout {
        try CgroupLayout.detect(mounts: MountTable.parse("cgroup \(root) cgroup rw,relatime,\(controller) 0 0\n"))
    }

    /// A cgroup directory whose devices.list shows `listed` (the kernel would derive it from the writes).
    static func cgroup(in root: String, listed: String) throws -> String {
        try put(root + "/pod/c/devices.allow", "")
        try put(root + "/pod/c/devices.deny", "")
        try put(root + "/pod/c/devices.list", listed)
        return "/pod/c"
    }

    @Test func writesTheDefaultThenTheExceptionsAndChecksDevicesList() throws {
        try withTempTree { root in
            let state = try DeviceCgroupState(rules: Self.crpodRules)
            let listed = state.exceptionRules.map(\.cgroupLine).joined(separator: "\n") + "\n"
            let applied = try DeviceCgroup.apply(rules: Self.crpodRules, cgroup: Self.cgroup(in: root, listed: listed), layout: Self.layout(devicesAt: root))
            #expect(applied == .v1(directory: root + "/pod/c", writes: state.v1Writes))
            #expect(contents(root + "/pod/c/devices.deny") == "a *:* rwm", "the only deny: the reset to deny-all")
        }
    }

    @Test func aListThatIsNotThePolicyFails() throws {
        try withTempTree { root in
            let path = try Self.cgroup(in: root, listed: "a *:* rwm\n")
            let expected = try DeviceCgroupState(rules: Self.crpodRules).v1Writes.map(\.line)
            #expect(throws: DeviceCgroupError.listMismatch(directory: root + "/pod/c", expected: expected, listed: "a *:* rwm\n")) {
                try DeviceCgroup.apply(rules: Self.crpodRules, cgroup: path, layout: Self.layout(devicesAt: root))
            }
        }
    }

    @Test func failuresNameTheOperationPathAndErrno() throws {
        try withTempTree { root in
            #expect(throws: DeviceCgroupError.system(.syscall(operation: "open", path: root + "/missing/devices.deny", errno: .noSuchFileOrDirectory))) {
                try DeviceCgroup.apply(rules: Self.crpodRules, cgroup: "/missing", layout: Self.layout(devicesAt: root))
            }
            #expect(throws: DeviceCgroupError.noDevicesHierarchy(mode: .legacy)) {
                try DeviceCgroup.apply(rules: Self.crpodRules, cgroup: "/c", layout: Self.layout(devicesAt: root, controller: "memory"))
            }
            let bad = [DeviceRule(type: .char, major: 1, access: .read, allow: true), DeviceRule(type: .char, major: 1, minor: 2, access: .read, allow: false)]
            #expect(throws: DeviceCgroupError.rules(.cannotPunchHole(rule: "deny c 1:2 r", wildcard: "allow c 1:* r"))) {
                try DeviceCgroup.apply(rules: bad, cgroup: "/c", layout: Self.layout(devicesAt: root))
            }
        }
    }
}
