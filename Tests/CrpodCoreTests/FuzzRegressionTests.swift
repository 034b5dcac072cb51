import Foundation
import Testing
@testable import CrpodCore

/// Findings of the libFuzzer targets (Fuzz/regressions), kept as ordinary tests.
@Suite("fuzzing regressions (CrpodCore)")
struct CoreFuzzRegressionTests {
    @Test func aKeptContainerIDMustBeAnID() throws {
        var archive = RestoreFixture.archive()
        archive.containerID = "../../../../tmp/crpod-evil"
        let result = RestorePlanner.plan(archive: archive, pod: RestoreFixture.pod(), host: RestoreFixture.host(), options: RestoreFixture.options())
        guard case let .failure(problems) = result else { Issue.record("planned a restore under a path-like id"); return }
        #expect(problems.problems.map(\.code) == [RestoreProblem.Code.invalidID])
        #expect(problems.problems.first?.message.contains("--name") == true)
        // With --name the archive's id is not used at all.
        let renamed = RestorePlanner.plan(archive: archive, pod: RestoreFixture.pod(), host: RestoreFixture.host(), options: RestoreFixture.options(name: "fresh"))
        guard case let .success(plan) = renamed else { Issue.record("a renamed restore should plan"); return }
        #expect(plan.containerID == RestoreFixture.newID)
    }

    @Test func aKeptContainerNameMustBeAName() throws {
        var archive = RestoreFixture.archive()
        archive.containerName = "../evil"
        let result = RestorePlanner.plan(archive: archive, pod: RestoreFixture.pod(), host: RestoreFixture.host(), options: RestoreFixture.options())
        guard case let .failure(problems) = result else { Issue.record("planned a restore under a path-like name"); return }
        #expect(problems.problems.map(\.code) == [RestoreProblem.Code.invalidName])
    }

    @Test(arguments: ["../\u{0301}x", "a/../\u{0301}b", "/\u{0301}etc"])
    func namesWithAMarkAfterTheSlashAreStillCheckedByComponent(name: String) {
        #expect(CheckpointMember.unsafeNameReason(name) != nil, "\(name.unicodeScalars.map { String($0.value, radix: 16) })")
    }

    @Test func linkTargetsAreSplitOnBytes() {
        #expect(CheckpointMember.linkEscapes(member: "a", target: "../\u{0301}x", isHardLink: false))
        #expect(!CheckpointMember.linkEscapes(member: "d/a", target: "../\u{0301}x", isHardLink: false))
    }

    @Test func policyPathsAreComparedByByteComponents() throws {
        let spec = try OCISpec(data: Data(#"{"mounts":[{"destination":"/x","type":"bind","source":"/allowed/../\u0301x"}]}"#.utf8), context: "spec.dump")
        let problems = RestorePolicy(allowedBindSources: ["/allowed"]).violations(spec: spec, rootfs: "/r", containerDirectory: "/c")
        #expect(problems.count == 1, "a hidden .. is still a ..")
        #expect(PathText.isUnder("/allowed/\u{0301}x", "/allowed"))
        #expect(!PathText.isUnder("/allowedx", "/allowed"))
    }

    @Test(arguments: [#"{"allow":true,"major":null,"minor":null,"access":"rwm"}"#, #"{"allow":true,"type":"","access":"rwm"}"#, #"{"allow":true,"type":"a"}"#])
    func allowAllDeviceRulesInEveryFormRuncReads(rule: String) throws {
        let spec = try OCISpec(data: Data(#"{"linux":{"resources":{"devices":[\#(rule)]}}}"#.utf8), context: "spec.dump")
        #expect(RestorePolicy().violations(spec: spec, rootfs: "/r", containerDirectory: "/c").contains { $0.contains("all devices") })
    }

    @Test func aWholeDeviceClassIsPrivilegedToo() throws {
        let spec = try OCISpec(data: Data(#"{"linux":{"resources":{"devices":[{"allow":true,"type":"b","access":"rwm"},{"allow":true,"type":"c","major":null,"minor":3}]}}}"#.utf8), context: "spec.dump")
        let problems = RestorePolicy().violations(spec: spec, rootfs: "/r", containerDirectory: "/c")
        #expect(problems == ["the spec allows access to every block device (privileged specs are not allowed)",
                             "the spec allows access to every character device (privileged specs are not allowed)"])
    }

    @Test func aSpecificDeviceRuleIsNotAllowAll() throws {
        let spec = try OCISpec(data: Data(#"{"linux":{"resources":{"devices":[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}}}"#.utf8), context: "spec.dump")
        #expect(RestorePolicy().violations(spec: spec, rootfs: "/r", containerDirectory: "/c").isEmpty)
    }
}
