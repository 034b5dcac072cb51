import Testing
@testable import CrpodCore

/// One validator case: a clean archive's facts, changed by `change`, must give exactly
/// the `codes` (in any order), and each problem's message must mention `mention`.
struct ArchiveValidatorCase: Sendable, CustomTestStringConvertible {
    enum Base: Sendable { case crpod, podman }
    let name: String
    let base: Base
    let codes: [String]
    let mention: String
    let change: @Sendable (inout ArchiveFacts) throws -> Void

    init(_ name: String, _ base: Base = .crpod, codes: [String], mention: String,
         _ change: @escaping @Sendable (inout ArchiveFacts) throws -> Void) {
        self.name = name
        self.base = base
        self.codes = codes
        self.mention = mention
        self.change = change
    }

    var testDescription: String { name }

    func facts() throws -> ArchiveFacts {
        var facts = try base == .crpod ? CheckpointFixtures.crpodFacts() : CheckpointFixtures.podmanFacts()
        try change(&facts)
        return facts
    }
}

private typealias ProblemCode = ArchiveProblem.Code
private typealias CheckpointFx = CheckpointFixtures

private func ckDir(_ name: String) -> ArchiveMember { ArchiveMember(name: name, type: .directory) }
private func ckRemove(_ name: String) -> @Sendable (inout ArchiveFacts) -> Void {
    { facts in facts.members.removeAll { $0.name == name } }
}
private func ckInsert(_ member: ArchiveMember) -> @Sendable (inout ArchiveFacts) -> Void {
    { facts in facts = CheckpointFx.inserting(member, into: facts) }
}
private func ckEditConfig(_ edit: @escaping @Sendable (inout CheckpointConfig) -> Void) -> @Sendable (inout ArchiveFacts) -> Void {
    { facts in if var config = facts.config { edit(&config); facts.config = config } }
}

private let validatorCases: [ArchiveValidatorCase] = [
    // Required members and parsed documents.
    .init("no config.dump", codes: [ProblemCode.missingMember, ProblemCode.manifestMemberMissing], mention: "config.dump", ckRemove("config.dump")),
    .init("no inventory (podman)", .podman, codes: [ProblemCode.missingMember], mention: "checkpoint/inventory.img",
          ckRemove("checkpoint/inventory.img")),
    .init("spec.dump is a directory", .podman, codes: [ProblemCode.missingMember], mention: "spec.dump") { facts in
        facts.members = facts.members.map { $0.name == "spec.dump" ? ckDir("spec.dump") : $0 }
    },
    .init("unparsable config", .podman, codes: [ProblemCode.invalidConfig], mention: "config.dump") { facts in
        facts.config = nil
        facts.configError = "invalid JSON in config.dump: unexpected end of data"
    },
    .init("config without id", .podman, codes: [ProblemCode.invalidConfig], mention: "config.dump", ckEditConfig { $0.id = nil }),
    .init("unparsable spec", codes: [ProblemCode.invalidSpec], mention: "spec.dump") { facts in
        facts.spec = nil
        facts.specError = "invalid JSON in spec.dump: bad"
    },
    .init("unreadable inventory", .podman, codes: [ProblemCode.invalidInventory], mention: "checkpoint/inventory.img") { facts in
        facts.inventory = nil
        facts.inventoryError = "CRIU image checkpoint/inventory.img: expected magic 0x58313116, found 0x00000000"
    },
    .init("malformed crpod section", codes: [ProblemCode.invalidCrpodSection], mention: "config.dump",
          ckEditConfig { $0.json["crpod"]?["version"] = nil }),
    .init("crpod section from the future", codes: [ProblemCode.unsupportedCrpodVersion], mention: "config.dump",
          ckEditConfig { $0.json["crpod"]?["version"] = 99 }),
    // The manifest.
    .init("crpod archive without manifest", codes: [ProblemCode.missingManifest], mention: "crpod-manifest.json") { facts in
        facts.members.removeLast()
        facts.manifest = nil
    },
    .init("unreadable manifest", codes: [ProblemCode.invalidManifest], mention: "crpod-manifest.json") { facts in
        facts.manifest = nil
        facts.manifestError = "invalid JSON in crpod-manifest.json: truncated"
    },
    .init("manifest not last", codes: [ProblemCode.manifestNotLast], mention: "crpod-manifest.json") { facts in
        facts.members.append(ckDir("zzz"))
    },
    .init("manifest version 2", codes: [ProblemCode.unsupportedManifestVersion], mention: "crpod-manifest.json") { facts in
        facts.manifest?.version = 2
    },
    .init("manifest lists a missing member", codes: [ProblemCode.manifestMemberMissing], mention: "checkpoint/pages-9.img") { facts in
        facts.manifest?.members.append(.init(name: "checkpoint/pages-9.img", size: 4096, sha256: "00"))
    },
    .init("manifest lists a member twice", codes: [ProblemCode.manifestDuplicateEntry], mention: "stats-dump") { facts in
        facts.manifest?.members.append(.init(name: "stats-dump", size: 47, sha256: String(repeating: "a", count: 64)))
    },
    .init("size differs from the manifest", codes: [ProblemCode.manifestSizeMismatch], mention: "rootfs-diff.tar") { facts in
        facts.members = facts.members.map { var m = $0; if m.name == "rootfs-diff.tar" { m.size += 1 }; return m }
    },
    .init("digest differs from the manifest", codes: [ProblemCode.manifestDigestMismatch], mention: "checkpoint/pages-1.img") { facts in
        facts.members = facts.members.map {
            var m = $0; if m.name == "checkpoint/pages-1.img" { m.sha256 = String(repeating: "f", count: 64) }; return m
        }
    },
    .init("file not in the manifest", codes: [ProblemCode.unlistedMember], mention: "extra.bin",
          ckInsert(ArchiveMember(name: "extra.bin", size: 1, type: .file))),
    // Member names, types and links.
    .init("absolute name", codes: [ProblemCode.unsafeName], mention: "/etc/cron.d", ckInsert(ckDir("/etc/cron.d"))),
    .init("dot-dot component", codes: [ProblemCode.unsafeName], mention: "checkpoint/../../x", ckInsert(ckDir("checkpoint/../../x"))),
    .init("empty name", codes: [ProblemCode.unsafeName], mention: "empty", ckInsert(ckDir(""))),
    .init("NUL in name", codes: [ProblemCode.unsafeName], mention: "NUL", ckInsert(ckDir("a\u{0}b"))),
    .init("name over 4096 bytes", codes: [ProblemCode.unsafeName], mention: "4097 bytes",
          ckInsert(ckDir(String(repeating: "a", count: 4097)))),
    .init("root entry that is a file", .podman, codes: [ProblemCode.unsafeName], mention: "archive root") { facts in
        facts.members.insert(ArchiveMember(name: "./", type: .file), at: 0)
    },
    .init("absolute symlink", codes: [ProblemCode.linkEscapes], mention: "checkpoint/evil",
          ckInsert(ArchiveMember(name: "checkpoint/evil", type: .symlink, linkTarget: "/etc/shadow"))),
    .init("climbing symlink", codes: [ProblemCode.linkEscapes], mention: "checkpoint/parent",
          ckInsert(ArchiveMember(name: "checkpoint/parent", type: .symlink, linkTarget: "../../images"))),
    .init("climbing hard link", .podman, codes: [ProblemCode.linkEscapes], mention: "checkpoint/hl") { facts in
        facts.members.append(ArchiveMember(name: "checkpoint/hl", type: .hardlink, linkTarget: "../etc/passwd"))
    },
    .init("hard link without target", .podman, codes: [ProblemCode.linkEscapes], mention: "no target") { facts in
        facts.members.append(ArchiveMember(name: "hl", type: .hardlink))
    },
    .init("duplicate member", codes: [ProblemCode.duplicateMember], mention: "checkpoint", ckInsert(ckDir("./checkpoint/"))),
    .init("fifo at the top level", .podman, codes: [ProblemCode.unexpectedMemberType], mention: "fifo") { facts in
        facts.members.append(ArchiveMember(name: "pipe", type: .other, typeDetail: "fifo"))
    },
    // Dependencies and pod facts.
    .init("explicit dependency", .podman, codes: [ProblemCode.hasDependencies], mention: "has dependencies",
          ckEditConfig { $0.dependencies = [CheckpointFx.infraID, "db0123"] }),
    .init("namespace owner outside a pod", .podman, codes: [ProblemCode.hasDependencies], mention: "has dependencies",
          ckEditConfig { $0.pod = nil }),
    .init("pod without shared namespaces", .podman, codes: [ProblemCode.podInconsistent], mention: "no namespace is shared",
          ckEditConfig { $0.sharedNamespaceOwners = [:] }),
    .init("namespaces shared with two containers", .podman, codes: [ProblemCode.podInconsistent], mention: "more than one",
          ckEditConfig { $0.sharedNamespaceOwners["uts"] = "other" }),
    .init("crpod section names another pod", codes: [ProblemCode.podInconsistent], mention: "crpod section",
          ckEditConfig { $0.json["crpod"]?["podID"] = "elsewhere" }),
    .init("crpod section claims other shares", codes: [ProblemCode.podInconsistent], mention: "[ipc,net,uts]",
          ckEditConfig { $0.sharedNamespaceOwners["pid"] = nil }),
]

@Suite("ArchiveValidator")
struct ArchiveValidatorTests {
    @Test func aCleanCrpodArchiveHasNoProblems() throws {
        let facts = try CheckpointFx.crpodFacts()
        #expect(facts.engine == .crpod)
        #expect(ArchiveValidator.validate(facts) == [])
    }

    @Test func aCleanPodmanArchiveNeedsNoManifest() throws {
        let facts = try CheckpointFx.podmanFacts()
        #expect(facts.engine == .podman)
        #expect(ArchiveValidator.validate(facts) == [])
    }

    @Test(arguments: validatorCases)
    func reportsEachProblem(_ testCase: ArchiveValidatorCase) throws {
        let problems = ArchiveValidator.validate(try testCase.facts())
        #expect(problems.map(\.code).sorted() == testCase.codes.sorted(), "\(problems)")
        for problem in problems {
            #expect(problem.message.contains(testCase.mention), "\(problem.message)")
            if let member = problem.member, !member.isEmpty, member.utf8.count < 200, !member.contains("\u{0}") {
                #expect(problem.message.contains(member), "\(problem.message)")
            }
        }
    }

    @Test func listsEveryProblemNotJustTheFirst() throws {
        var facts = try CheckpointFx.crpodFacts()
        facts.members.removeAll { $0.name == "spec.dump" }
        facts.members.append(ArchiveMember(name: "/abs", type: .other, typeDetail: "character device"))
        facts.configError = "broken"
        facts.config = nil
        let codes = Set(ArchiveValidator.validate(facts).map(\.code))
        #expect(codes == [ProblemCode.missingMember, ProblemCode.manifestMemberMissing, ProblemCode.manifestNotLast, ProblemCode.unsafeName, ProblemCode.unexpectedMemberType, ProblemCode.invalidConfig])
    }

    @Test func aCRIOArchiveIsNotHeldToTheManifest() throws {
        var facts = try CheckpointFx.podmanFacts()
        facts.spec = try CheckpointFx.spec(annotations: ["io.container.manager": "cri-o", "io.kubernetes.cri-o.SandboxID": "abc"])
        #expect(facts.engine == .crio)
        #expect(ArchiveValidator.validate(facts) == [])
    }

    @Test(arguments: [
        ("checkpoint/parent", "../other", false),
        ("checkpoint/parent", "../../other", true),
        ("top", "./a/../b", false),
        ("top", "a/../../b", true),
        ("checkpoint/x", "checkpoint/y", false),
        ("x", "/abs", true),
        ("x", "", true),
    ])
    func linkTargets(member: String, target: String, escapes: Bool) {
        #expect(CheckpointMember.linkEscapes(member: member, target: target, isHardLink: false) == escapes)
    }

    @Test func hardLinkTargetsResolveFromTheRoot() {
        #expect(CheckpointMember.linkEscapes(member: "checkpoint/a", target: "checkpoint/b", isHardLink: true) == false)
        #expect(CheckpointMember.linkEscapes(member: "checkpoint/a", target: "../b", isHardLink: true))
    }

    @Test func canonicalNames() {
        #expect(CheckpointMember.canonical("./checkpoint/") == "checkpoint")
        #expect(CheckpointMember.canonical("config.dump") == "config.dump")
        #expect(CheckpointMember.isRoot("./"))
        #expect(CheckpointMember.isRoot("."))
        #expect(!CheckpointMember.isRoot(""))
    }
}
