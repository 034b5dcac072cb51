#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import CrpodCore

/// A whole-pod archive's facts: `pod.json`, the clean single-container fixture under
/// `members/<name>/` for each name, one root manifest over all, last.
enum PodArchiveFixtures {
    static func description(_ names: [String]) -> PodArchiveDescription {
        PodArchiveDescription(name: "p1", id: CheckpointFixtures.podID, shares: ["ipc", "net", "uts"], hostname: "p1",
                              network: .init(mode: "none"), members: names.map { .init(name: $0, id: CheckpointFixtures.containerID) })
    }

    static func facts(_ names: [String] = ["web", "db"], describe: PodArchiveDescription? = nil,
                      change: (inout ArchiveFacts) -> Void = { _ in }) throws -> PodArchiveFacts {
        let single = try CheckpointFixtures.crpodFacts()
        let files = single.members.filter { $0.name != CheckpointMember.manifest }
        var members = [ArchiveMember(name: PodArchiveMember.description, size: 300, type: .file, sha256: "aa")]
        for name in names {
            members += files.map { var member = $0; member.name = "members/\(name)/" + $0.name; return member }
        }
        var whole = ArchiveFacts(members: members, compression: .zstd)
        whole.manifest = ArchiveManifestModel(members: members.filter { $0.type == .file }.map { .init(name: $0.name, size: $0.size, sha256: $0.sha256 ?? "") })
        whole.members.append(ArchiveMember(name: CheckpointMember.manifest, size: 900, type: .file))
        change(&whole)
        let bytes = Array(try (describe ?? description(names)).data())
        var pod = PodArchiveFacts(whole: whole, contents: [PodArchiveMember.description: bytes])
        for name in pod.members.keys {
            pod.members[name]?.config = single.config
            pod.members[name]?.spec = single.spec
            pod.members[name]?.inventory = single.inventory
        }
        return pod
    }
}

@Suite("PodArchiveValidator")
struct PodArchiveValidatorTests {
    @Test func aCleanPodArchiveHasNoProblemsAndEachMemberLooksLikeASingleArchive() throws {
        let pod = try PodArchiveFixtures.facts()
        #expect(pod.whole.isPodArchive)
        #expect(PodArchiveValidator.validate(pod) == [])
        let web = try #require(pod.members["web"])
        #expect(web.members.map(\.name).contains(CheckpointMember.config))
        #expect(web.members.last?.name == CheckpointMember.manifest)
        #expect(ArchiveValidator.validate(web) == [], "the member alone passes the single-container validator")
        #expect(web.manifest?.members.allSatisfy { !$0.name.hasPrefix("members/") } == true)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let codes: Set<String>
        let mention: String
        let make: @Sendable () throws -> PodArchiveFacts
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a listed member without its directory", codes: [ArchiveProblem.Code.missingMember], mention: "member ghost") {
            try PodArchiveFixtures.facts(["web"], describe: PodArchiveFixtures.description(["web", "ghost"]))
        },
        Case(name: "a directory pod.json does not list", codes: [PodArchiveValidator.memberMismatch], mention: "members/db") {
            try PodArchiveFixtures.facts(["web", "db"], describe: PodArchiveFixtures.description(["web"]))
        },
        Case(name: "a member listed twice", codes: [PodArchiveValidator.invalidDescription], mention: "more than once") {
            try PodArchiveFixtures.facts(["web"], describe: PodArchiveFixtures.description(["web", "web"]))
        },
        Case(name: "a member name that is a path", codes: [PodArchiveValidator.invalidDescription], mention: "invalid name") {
            try PodArchiveFixtures.facts(["web"], describe: PodArchiveFixtures.description(["web", "../etc"]))
        },
        Case(name: "an unsupported pod.json version", codes: [PodArchiveValidator.invalidDescription], mention: "version 9") {
            var description = PodArchiveFixtures.description(["web"])
            description.version = 9
            return try PodArchiveFixtures.facts(["web"], describe: description)
        },
        Case(name: "a member file the root manifest does not list", codes: [ArchiveProblem.Code.unlistedMember], mention: "members/web/checkpoint/extra.img") {
            try PodArchiveFixtures.facts(["web"]) { whole in
                whole.members.insert(ArchiveMember(name: "members/web/checkpoint/extra.img", size: 4, type: .file), at: 1)
            }
        },
        Case(name: "a member's file whose size the manifest contradicts", codes: [ArchiveProblem.Code.manifestSizeMismatch], mention: "members/web/config.dump") {
            try PodArchiveFixtures.facts(["web"]) { whole in
                if let index = whole.members.firstIndex(where: { $0.name == "members/web/config.dump" }) { whole.members[index].size += 1 }
            }
        },
        Case(name: "an escaping member name", codes: [ArchiveProblem.Code.unsafeName], mention: "..") {
            try PodArchiveFixtures.facts(["web"]) { whole in
                whole.members.insert(ArchiveMember(name: "members/web/../../x", type: .directory), at: 1)
            }
        },
    ]

    @Test(arguments: cases)
    func reportsEachProblem(_ testCase: Case) throws {
        let problems = PodArchiveValidator.validate(try testCase.make())
        #expect(Set(problems.map(\.code)) == testCase.codes, "\(problems)")
        #expect(problems.contains { $0.message.contains(testCase.mention) }, "\(problems.map(\.message))")
    }

    @Test func aMissingPodDescriptionIsOneProblem() throws {
        var pod = try PodArchiveFixtures.facts(["web"])
        pod = PodArchiveFacts(whole: pod.whole, contents: [:])
        let problems = PodArchiveValidator.validate(pod)
        #expect(problems.map(\.code) == [PodArchiveValidator.invalidDescription])
        #expect(problems.first?.message.contains("no pod.json") == true)
    }

    @Test func theDescriptionRoundTripsAndIgnoresUnknownKeys() throws {
        var text = String(decoding: try PodArchiveFixtures.description(["a"]).data(), as: UTF8.self)
        text = "{\"future\": 1, " + text.dropFirst()
        let decoded = try PodArchiveDescription(data: Data(text.utf8))
        #expect(decoded == PodArchiveFixtures.description(["a"]))
    }
}
