#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import CrpodCore

private func problems(_ json: JSONValue) -> [String] {
    do {
        _ = try SeccompProfile.parse(json, source: "/etc/p.json")
        return []
    } catch let CoreError.invalidSeccompProfile(source, problems) {
        #expect(source == "/etc/p.json")
        return problems
    } catch {
        return ["unexpected \(error)"]
    }
}

@Suite("Seccomp profile parsing")
struct SeccompProfileParsingTests {
    @Test func ociProfileResolvesToItself() throws {
        let json: JSONValue = [
            "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                          "args": [["index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"]]]],
        ]
        let resolved = try SeccompProfile.parse(json, source: "p").linuxSeccomp(capabilities: [], architecture: "amd64")
        #expect(resolved == json)
    }

    @Test func dockerFormResolvesConditionsAndArchMap() throws {
        let json: JSONValue = [
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "defaultErrno": "ENOSYS",
            "archMap": [["architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]]],
            "syscalls": [
                ["names": ["read"], "action": "SCMP_ACT_ALLOW", "args": nil, "comment": "", "includes": [:], "excludes": [:]],
                ["name": "chroot", "action": "SCMP_ACT_ALLOW", "includes": ["caps": ["CAP_SYS_CHROOT"]]],
                ["names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "errno": "EPERM", "excludes": ["caps": ["CAP_SYS_CHROOT"]]],
                ["names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": ["arches": ["arm64"]]],
            ],
        ]
        let profile = try SeccompProfile.parse(json, source: "p")
        #expect(profile.linuxSeccomp(capabilities: ["CAP_SYS_CHROOT"], architecture: "amd64") == [
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [["names": ["read"], "action": "SCMP_ACT_ALLOW"], ["names": ["chroot"], "action": "SCMP_ACT_ALLOW"]],
        ])
        let bare = profile.linuxSeccomp(capabilities: [], architecture: "arm64")
        #expect(bare["architectures"] == nil, "archMap has no arm64 entry and the profile lists none")
        #expect(bare["syscalls"]?.arrayValue?.count == 3, "read, chroot refused, set_tls")
    }

    @Test(arguments: [
        (JSONValue.array([]), "the top level must be a JSON object"),
        (["syscalls": []], "defaultAction: missing"),
        (["defaultAction": "SCMP_ACT_MAYBE"], "defaultAction: unknown action \"SCMP_ACT_MAYBE\""),
        (["defaultAction": "SCMP_ACT_NOTIFY"], "SCMP_ACT_NOTIFY needs a seccomp agent"),
        (["defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": -1], "defaultErrnoRet: must be a non-negative integer"),
        (["defaultAction": "SCMP_ACT_ALLOW", "defaultaction": "x"], "defaultaction: unknown field"),
        (["defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]], "architectures[0]: unknown architecture"),
        (["defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"]], "flags[0]: unknown flag"),
        (["defaultAction": "SCMP_ACT_ALLOW", "syscalls": "mkdir"], "syscalls: must be an array"),
        (["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["action": "SCMP_ACT_ERRNO"]]], "syscalls[0]: names must list at least one syscall"),
        (["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mk dir"], "action": "SCMP_ACT_ERRNO"]]], "syscalls[0].names: \"mk dir\" is not a syscall name"),
        (["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir"]]]], "syscalls[0].action: missing"),
        (["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                           "args": [["index": 6, "value": 1, "op": "SCMP_CMP_EQ"]]]]],
         "syscalls[0].args[0].index: 6 is not a syscall argument (0-5)"),
        (["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                           "args": [["index": 0, "value": 1, "op": "EQ"]]]]],
         "syscalls[0].args[0].op: unknown operator \"EQ\""),
        (["defaultAction": "SCMP_ACT_ALLOW", "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "includes": ["minKernel": "4.8"]]]],
         "syscalls[0].includes.minKernel: unknown field"),
    ] as [(JSONValue, String)])
    func refusesWithThePathOfTheFault(json: JSONValue, expected: String) {
        let found = problems(json)
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test(arguments: ["amd64", "arm64", "s390x", "riscv64"])
    func aResolvedProfileIsAFixedPoint(architecture: String) throws {
        // What runc receives, read back as a user profile, resolves to itself: the OCI output
        // is valid input, and resolution adds or drops nothing the second time.
        for capabilities in [Set<String>(), Set(SpecBuilder.defaultCapabilities), ["CAP_SYS_ADMIN", "CAP_BPF"]] {
            let once = DefaultSeccompProfile.profile.linuxSeccomp(capabilities: capabilities, architecture: architecture)
            let twice = try SeccompProfile.parse(once, source: "resolved").linuxSeccomp(capabilities: [], architecture: architecture)
            #expect(once == twice, "\(architecture) \(capabilities.sorted())")
        }
    }

    @Test func listsEveryProblemAtOnceInTheMessage() {
        let json: JSONValue = ["defaultAction": "KILL", "syscalls": [["names": [], "action": "SCMP_ACT_ALLOW"], ["names": ["x"], "action": "Y"]]]
        #expect(problems(json).count == 3)
        let message = CoreError.invalidSeccompProfile(source: "/etc/p.json", problems: problems(json)).description
        #expect(message.hasPrefix("invalid seccomp profile /etc/p.json: defaultAction: unknown action \"KILL\""))
    }

    @Test func containersCommonsOwnFileParses() throws {
        // The shape of containers-common's seccomp.json, abridged: every key it uses is accepted.
        let text = #"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"defaultErrno":"ENOSYS","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],"syscalls":[{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":null,"comment":"","includes":{"caps":["CAP_AUDIT_WRITE"]},"excludes":{}},{"names":["bdflush"],"action":"SCMP_ACT_ERRNO","args":[],"comment":"","includes":{},"excludes":{},"errnoRet":1,"errno":"EPERM"}]}"#
        let profile = try SeccompProfile.parse(try JSONValue.parse(Data(text.utf8), context: "t"), source: "t")
        #expect(profile.rules.count == 2 && profile.rules[0].requiresCapabilities == ["CAP_AUDIT_WRITE"])
    }

    @Test func choiceWireForm() throws {
        let decoder = JSONDecoder(), encoder = JSONEncoder()
        #expect(try decoder.decode(SeccompChoice.self, from: Data(#""default""#.utf8)) == .defaultProfile)
        #expect(try decoder.decode(SeccompChoice.self, from: Data(#""unconfined""#.utf8)) == .unconfined)
        let object = try decoder.decode(SeccompChoice.self, from: Data(#"{"defaultAction":"SCMP_ACT_ALLOW"}"#.utf8))
        #expect(object == .profile(["defaultAction": "SCMP_ACT_ALLOW"], source: "in the request's seccomp field"))
        #expect(throws: DecodingError.self) { try decoder.decode(SeccompChoice.self, from: Data(#""strict""#.utf8)) }
        #expect(String(decoding: try encoder.encode(SeccompChoice.unconfined), as: UTF8.self) == #""unconfined""#)
        #expect(try decoder.decode(SeccompChoice.self, from: try encoder.encode(object)) == object)
    }
}
