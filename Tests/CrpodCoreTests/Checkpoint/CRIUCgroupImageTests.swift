import Testing
@testable import CrpodCore

@Suite("CRIU cgroup image: which hierarchies a checkpoint recorded")
struct CRIUCgroupImageTests {
    static let magic: UInt32 = 0x5938_3330

    static func controller(_ names: [String]) -> [UInt8] {
        ImageBytes.field(2, bytes: names.flatMap { ImageBytes.field(1, bytes: Array($0.utf8)) })
    }

    static func set(members: [(String, String)]) -> [UInt8] {
        ImageBytes.field(1, bytes: ImageBytes.field(1, 1) + members.flatMap { member in
            ImageBytes.field(2, bytes: ImageBytes.field(1, bytes: Array(member.0.utf8)) + ImageBytes.field(2, bytes: Array(member.1.utf8)))
        })
    }

    @Test func hybridCheckpointListsItsV1Controllers() throws {
        let entry = Self.set(members: [("cpu,cpuacct", "/p/c"), ("", "/p/c")]) + Self.controller(["cpu", "cpuacct"])
            + Self.controller([""]) + Self.controller(["name=systemd"])
        let bytes = ImageBytes.image(Self.magic, [entry])
        #expect(try CRIUCgroupImage.v1Controllers(bytes) == ["cpu,cpuacct", "name=systemd"])
        #expect(try CRIUCgroupImage.controllers(bytes) == [["cpu", "cpuacct"], [""], ["name=systemd"]])
    }

    @Test func unifiedOnlyCheckpointListsNone() throws {
        let bytes = ImageBytes.image(Self.magic, [Self.set(members: [("", "/p/c")]) + Self.controller([""])])
        #expect(try CRIUCgroupImage.v1Controllers(bytes) == [])
    }

    @Test func wrongMagicAndTruncationAreErrors() throws {
        #expect(throws: CheckpointProblem.self) { try CRIUCgroupImage.v1Controllers(ImageBytes.image(0x1234_5678, [Self.controller([""])])) }
        let bytes = ImageBytes.image(Self.magic, [Self.controller(["cpu"])])
        #expect(throws: CheckpointProblem.self) { try CRIUCgroupImage.v1Controllers(Array(bytes.dropLast(2))) }
    }
}

@Suite("restored resource limits on cgroup v2")
struct RestoreResourceLimitTests {
    @Test func limitsWithoutTheirControllerAreDroppedWithANote() throws {
        var spec = try OCISpec(data: .init("""
        {"linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}], "pids": {"limit": 2048}, "memory": {"limit": 1048576}}}}
        """.utf8), context: "test")
        let notes = spec.dropLimits(withoutControllers: ["memory"], parent: "/crpod/pod")
        #expect(spec.json.value(atPath: ["linux", "resources", "pids"]) == nil)
        #expect(spec.json.value(atPath: ["linux", "resources", "memory"]) != nil)
        #expect(spec.json.value(atPath: ["linux", "resources", "devices"]) != nil, "devices is eBPF on v2: kept")
        #expect(notes.count == 1 && notes[0].contains("pids") && notes[0].contains("/crpod/pod"))
        #expect(spec.dropLimits(withoutControllers: [], parent: "/x").count == 1, "memory goes too when nothing is delegated")
    }
}
