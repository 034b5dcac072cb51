import Foundation
import Testing
import CrpodCore
@testable import CrpodEngine

/// L0/L1: how the store answers references, what it keeps and collects, and the run request's wire form.
@Suite("image store lookups and garbage collection")
struct ImageStoreLookupTests {
    static func record(_ digit: Character, names: [String], key: Character = "k") -> ImageRecord {
        let digest = ImageDigest(hex: String(repeating: digit, count: 64))!
        return ImageRecord(id: digest, manifest: digest, names: names, layers: [digest], diffIDs: [digest],
                           rootfsKey: String(repeating: key, count: 8), size: 1, imported: "t")
    }

    static let records = [
        record("a", names: ["localhost/busybox:latest", "localhost/busybox:1"]),
        record("b", names: ["registry.example:5000/app:v1"]),
        ImageRecord(id: ImageDigest("sha256:ab" + String(repeating: "0", count: 62))!, manifest: ImageDigest(hex: String(repeating: "c", count: 64))!,
                    names: [], layers: [], diffIDs: [], rootfsKey: "x", size: 0, imported: "t"),
    ]

    @Test("references resolve by name (tag latest by default), full digest or unique ID prefix", arguments: [
        ("localhost/busybox", "a"), ("localhost/busybox:1", "a"), ("registry.example:5000/app:v1", "b"),
        ("sha256:" + String(repeating: "b", count: 64), "b"), ("aaaa", "a"), ("ab00", "a"),
    ])
    func resolves(_ reference: String, _ expected: Character) throws {
        let store = ImageStore(root: "/nonexistent")
        let found = try store.find(reference, in: Self.records)
        if reference == "ab00" {
            #expect(found?.id.hex.hasPrefix("ab00") == true)
        } else {
            #expect(found?.id.hex == String(repeating: expected, count: 64))
        }
    }

    @Test("unknown names find nothing; an ID prefix two images share is ambiguous")
    func missesAndAmbiguity() throws {
        let store = ImageStore(root: "/nonexistent")
        #expect(try store.find("localhost/busybox:2", in: Self.records) == nil)
        #expect(try store.find("busybox", in: Self.records) == nil, "no default registry is guessed")
        #expect(throws: EngineError.self) { try store.find("aaaa", in: Self.records + [Self.record("a", names: [])]) }
    }

    @Test("garbage collection keeps what records refer to and clears staging")
    func collects() throws {
        try withTempTree { root in
            let store = ImageStore(root: root)
            try store.ensureLayout()
            let kept = Self.record("a", names: ["x:1"])
            for name in [String(repeating: "a", count: 64), String(repeating: "d", count: 64)] { try put("\(root)/images/blobs/sha256/\(name)", "") }
            try put("\(root)/images/rootfs/\(kept.rootfsKey)/bin/sh", "")
            try put("\(root)/images/rootfs/stale/bin/sh", "")
            try put("\(root)/images/tmp/import-x/part", "")
            try store.collectGarbage(keeping: [kept])
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/images/blobs/sha256") == [String(repeating: "a", count: 64)])
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/images/rootfs") == [kept.rootfsKey])
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/images/tmp").isEmpty)
            #expect(store.holds(rootfs: "\(root)/images/rootfs/\(kept.rootfsKey)"))
            #expect(!store.holds(rootfs: "\(root)/images/rootfs/\(kept.rootfsKey)/bin") && !store.holds(rootfs: root))
        }
    }

    @Test("a run request may name an image instead of a rootfs")
    func runRequestWireForm() throws {
        let request = try JSONDecoder().decode(RunRequest.self, from: Data(#"{"name":"c","image":"localhost/busybox","command":["true"]}"#.utf8))
        #expect(request.image == "localhost/busybox" && request.rootfs.isEmpty)
    }
}
