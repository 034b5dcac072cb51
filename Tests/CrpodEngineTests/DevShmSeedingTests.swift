import Foundation
import Testing
import CrpodArchive
import CrpodCore
import CrpodLinux
@testable import CrpodEngine

/// A temp root holding an engine (state and journal under `lib/`), a pod-shaped shm directory
/// (`shm-fs/shm`, its sibling `shm-fs/` is where `incoming-*` goes) and a checkpoint's
/// devshm-checkpoint.tar built by `RootfsDiff.diff` from `a`, `sem.b` and `d/x`.
struct DevShmBox {
    let dir: String
    let engine: Engine

    static let archived = ["a": "archive a", "sem.b": "archive b", "d/x": "archive x"]
    var shm: String { dir + "/shm-fs/shm" }
    var archiveDirectory: String { dir + "/archive" }
    var tar: String { archiveDirectory + "/" + CheckpointMember.devShm }

    static func run(_ body: (DevShmBox) async throws -> Void) async throws {
        try await withTempTree { dir in
            let engine = Engine(settings: EngineSettings(
                root: dir + "/lib", runRoot: dir + "/run", runtimePath: nil, criuPath: nil, criuSource: nil,
                cgroupParent: "/crpod-unit-test", helperDirectory: dir))
            try engine.store.ensureLayout()
            let box = DevShmBox(dir: dir, engine: engine)
            for (path, text) in archived { try put(dir + "/source/" + path, text) }
            try FileManager.default.createDirectory(atPath: box.archiveDirectory, withIntermediateDirectories: true)
            _ = try RootfsDiff.diff(upperDirectory: dir + "/source", tarPath: box.tar)
            try FileManager.default.createDirectory(atPath: box.shm, withIntermediateDirectories: true)
            try await body(box)
        }
    }

    /// Every file under `root` (relative path → text); directories show through their files.
    func files(_ root: String) -> [String: String] {
        let paths = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        var files: [String: String] = [:]
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: root + "/" + path) else { continue }
            files[path] = String(decoding: data, as: UTF8.self)
        }
        return files
    }

    /// What sits beside the shm directory: just `shm` once no `incoming-*` is left.
    var shmSiblings: [String] { (try? FileManager.default.contentsOfDirectory(atPath: dir + "/shm-fs").sorted()) ?? [] }

    var journalIsSettled: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/lib/journal")) ?? []).isEmpty
    }

    /// The one journal entry of the operation under way, as a crash would leave it.
    func journalEntry() throws -> JournalEntry {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/lib/journal")
        try #require(names.count == 1, "\(names)")
        let data = try #require(FileManager.default.contents(atPath: dir + "/lib/journal/" + names[0]))
        return try JSONDecoder().decode(JournalEntry.self, from: data)
    }

    func putInShm(_ files: [String: String]) throws {
        for (path, text) in files { try put(shm + "/" + path, text) }
    }

    func seed(_ rollback: Rollback) async throws -> Engine.DevShmSeeding {
        try await engine.seedDevShm(shm, fromTar: tar, rollback: rollback)
    }
}

private struct StopHere: Error {}

/// L1: `Engine.seedDevShm` on temp trees: an archive's /dev/shm entries are added where the
/// target lacks them, the target's own entries win whole, the journal takes the added ones
/// out again on a failure, and a hostile tar changes nothing. No root needed.
@Suite("Engine.seedDevShm")
struct DevShmSeedingTests {
    static func topLevel(_ path: String) -> String { String(path.split(separator: "/")[0]) }

    /// Pre-existing entries keep their content (a directory is kept whole, never merged into);
    /// each top-level entry of the archive the target lacks is added with the archive's.
    @Test(arguments: [
        [:],
        ["a": "live a"],
        ["a": "live a", "d/y": "live y"],
        ["a": "live a", "sem.b": "live b", "d/y": "live y", "other": "live other"],
    ])
    func seedsTheEntriesTheTargetLacks(_ existing: [String: String]) async throws {
        try await DevShmBox.run { box in
            try box.putInShm(existing)
            let seeding = try await box.engine.withRollback("seed test") { try await box.seed($0) }
            let existingTop = Set(existing.keys.map(Self.topLevel))
            let archivedTop = Set(DevShmBox.archived.keys.map(Self.topLevel))
            #expect(seeding == Engine.DevShmSeeding(added: archivedTop.subtracting(existingTop).sorted(),
                                                    kept: archivedTop.intersection(existingTop).sorted()))
            let expected = existing.merging(DevShmBox.archived.filter { !existingTop.contains(Self.topLevel($0.key)) }) { live, _ in live }
            #expect(box.files(box.shm) == expected)
            #expect(box.shmSiblings == ["shm"], "no incoming-* left")
            #expect(box.journalIsSettled)
        }
    }

    @Test("a failed operation removes what the seeding added and keeps the target's own")
    func rollbackRemovesOnlyTheAddedEntries() async throws {
        try await DevShmBox.run { box in
            try box.putInShm(["a": "live a"])
            await #expect(throws: StopHere.self) {
                try await box.engine.withRollback("seed test") { rollback in
                    let seeding = try await box.seed(rollback)
                    #expect(seeding == Engine.DevShmSeeding(added: ["d", "sem.b"], kept: ["a"]))
                    #expect(box.files(box.shm) == ["a": "live a", "sem.b": "archive b", "d/x": "archive x"], "seeded before the failure")
                    let entry = try box.journalEntry()
                    #expect(entry.steps == [.removeTree(box.shm + "/d"), .removeTree(box.shm + "/sem.b")], "never the pod's own a")
                    #expect(entry.temporaries.count == 1)
                    if case let .removeTree(incoming)? = entry.temporaries.first {
                        #expect(incoming.hasPrefix(box.dir + "/shm-fs/incoming-") && !Files.exists(incoming), "journaled, and already gone")
                    } else { Issue.record("the incoming directory is a temporary: \(entry.temporaries)") }
                    throw StopHere()
                }
            }
            #expect(box.files(box.shm) == ["a": "live a"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: box.shm) == ["a"], "no empty d/ left either")
            #expect(box.shmSiblings == ["shm"])
            #expect(box.journalIsSettled)
        }
    }

    /// A good member first, then the hostile one: whatever was unpacked before the refusal
    /// must not reach the target.
    enum Hostile: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case dotDot, characterDevice

        var testDescription: String { rawValue }

        var members: [RawTarMember] {
            switch self {
            case .dotDot: [.file("ok", "fine"), .file("../evil", "escaped")]
            case .characterDevice: [.file("ok", "fine"), .characterDevice("null", major: 1, minor: 3)]
            }
        }

        func matches(_ cause: ArchiveError?, tar: String) -> Bool {
            switch (self, cause) {
            case (.dotDot, .unsafeMemberName("../evil", _)?): true
            case (.characterDevice, .memberTypeRefused(tar, "null", "character device")?): true
            default: false
            }
        }
    }

    @Test(arguments: Hostile.allCases)
    func aHostileTarFailsAndChangesNothing(_ hostile: Hostile) async throws {
        try await DevShmBox.run { box in
            try writeRawTar(box.tar, hostile.members)
            try box.putInShm(["a": "live a"])
            let error = await #expect(throws: EngineError.self) {
                try await box.engine.withRollback("seed test") { try await box.seed($0) }
            }
            guard case let .step(name, cause)? = error else { Issue.record("not a step error: \(String(describing: error))"); return }
            #expect(name.hasPrefix("unpack \(CheckpointMember.devShm) into \(box.dir)/shm-fs/incoming-"), "\(name)")
            #expect(hostile.matches(cause as? ArchiveError, tar: box.tar), "\(cause)")
            #expect(box.files(box.shm) == ["a": "live a"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: box.shm) == ["a"])
            #expect(box.shmSiblings == ["shm"], "no incoming-*, nothing escaped beside the target")
            #expect(box.journalIsSettled)
        }
    }

    @Test("a missing tar is an error naming it, and leaves no incoming-*")
    func aMissingTarFails() async throws {
        try await DevShmBox.run { box in
            try FileManager.default.removeItem(atPath: box.tar)
            let error = await #expect(throws: EngineError.self) {
                try await box.engine.withRollback("seed test") { try await box.seed($0) }
            }
            #expect("\(String(describing: error))".contains(box.tar))
            #expect(try FileManager.default.contentsOfDirectory(atPath: box.shm).isEmpty)
            #expect(box.shmSiblings == ["shm"])
        }
    }
}
