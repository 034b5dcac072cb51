import Foundation
import Testing
import CrpodLinux
@testable import CrpodEngine

/// L1: the state store on a temp root.
@Suite("StateStore")
struct StateStoreTests {
    static func store(_ dir: String) throws -> StateStore {
        let store = StateStore(root: dir + "/lib", runRoot: dir + "/run")
        try store.ensureLayout()
        return store
    }

    /// Saves a container, creating its directory as `run` does.
    static func save(_ container: ContainerRecord, in store: StateStore) throws {
        try FileManager.default.createDirectory(atPath: store.containerDirectory(container.id), withIntermediateDirectories: true)
        try store.save(container)
    }

    @Test func ensureLayoutCreatesPrivateDirectories() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            for path in [store.root, store.podsDirectory, store.containersDirectory, store.runRoot, store.runRoot + "/runc"] {
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                #expect(attributes[.type] as? FileAttributeType == .typeDirectory, "\(path)")
                #expect(attributes[.posixPermissions] as? Int == 0o700, "\(path)")
            }
        }
    }

    @Test func podsRoundTripSortedByCreation() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            #expect(try store.pods().isEmpty)
            let late = podRecord(id: fakeID("bbbb"), name: "late", created: "2026-02-01T00:00:00Z")
            let early = podRecord(id: fakeID("aaaa"), name: "early", shares: ["ipc", "net", "uts", "pid"], infra: nil,
                                  created: "2026-01-01T00:00:00Z")
            try store.save(late)
            try store.save(early)
            #expect(try store.pods() == [early, late])
            let file = "\(store.podsDirectory)/\(early.id).json"
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            #expect(attributes[.posixPermissions] as? Int == 0o600)
            try store.deletePod(early.id)
            #expect(try store.pods() == [late])
            try store.deletePod(early.id)  // already gone
        }
    }

    @Test func containersRoundTrip() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            let pod = podRecord(id: fakeID("ab"), name: "web")
            let member = containerRecord(id: fakeID("c1"), name: "app", pod: pod, created: "2026-03-01T00:00:00Z")
            let loner = containerRecord(id: fakeID("c2"), name: "solo", created: "2026-01-01T00:00:00Z")
            try Self.save(member, in: store)
            try Self.save(loner, in: store)
            #expect(try store.containers() == [loner, member])
            #expect(FileManager.default.fileExists(atPath: store.containerDirectory(member.id) + "/container.json"))
        }
    }

    @Test func podReferencesResolveByNameIdAndUniquePrefix() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            let one = podRecord(id: fakeID("abc1"), name: "one")
            let two = podRecord(id: fakeID("abc2"), name: "two")
            let named = podRecord(id: fakeID("def"), name: "abc")  // a name that is also a prefix
            for pod in [one, two, named] { try store.save(pod) }
            #expect(try store.pod("one") == one)
            #expect(try store.pod(two.id) == two)
            #expect(try store.pod("abc1") == one)
            #expect(try store.pod("abc2000") == two)
            #expect(try store.pod("abc") == named, "an exact name wins over an id prefix")
        }
    }

    @Test func ambiguousPrefixListsShortIDs() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            for (prefix, name) in [("abc1", "one"), ("abc2", "two"), ("ffff", "three")] {
                try store.save(podRecord(id: fakeID(prefix), name: name))
            }
            let error = try #require(throws: EngineError.self) { try store.pod("abc") }
            guard case let .ambiguousReference(kind, reference, matches) = error else {
                Issue.record("expected .ambiguousReference, got \(error)")
                return
            }
            #expect(kind == "pod")
            #expect(reference == "abc")
            #expect(matches == ["abc100000000", "abc200000000"])
        }
    }

    @Test(arguments: ["nope", "ab", "xyz1", "abc3", "ABC1"])
    func unknownPodReference(reference: String) throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            try store.save(podRecord(id: fakeID("abc1"), name: "one"))
            let error = try #require(throws: EngineError.self) { try store.pod(reference) }
            guard case let .podNotFound(ref) = error else {
                Issue.record("expected .podNotFound, got \(error)")
                return
            }
            #expect(ref == reference)
            #expect(error.description.contains("pod \"\(reference)\" cannot be retrieved"))
        }
    }

    @Test func containerReferences() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            let first = containerRecord(id: fakeID("c0ffee1"), name: "first")
            let second = containerRecord(id: fakeID("c0ffee2"), name: "second")
            try Self.save(first, in: store)
            try Self.save(second, in: store)
            #expect(try store.container("second") == second)
            #expect(try store.container(first.id) == first)
            #expect(try store.container("c0ffee2") == second)
            let ambiguous = try #require(throws: EngineError.self) { try store.container("c0ffee") }
            guard case let .ambiguousReference(kind, _, matches) = ambiguous else {
                Issue.record("expected .ambiguousReference, got \(ambiguous)")
                return
            }
            #expect(kind == "container")
            #expect(matches.count == 2)
            let missing = try #require(throws: EngineError.self) { try store.container("third") }
            guard case let .containerNotFound(ref) = missing else {
                Issue.record("expected .containerNotFound, got \(missing)")
                return
            }
            #expect(ref == "third")
            #expect(missing.description == "no container with name or ID \"third\" found")
        }
    }

    @Test func corruptPodFileNamesThePath() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            try store.save(podRecord(id: fakeID("aaaa"), name: "fine"))
            let bad = try put("\(store.podsDirectory)/\(fakeID("bbbb")).json", "{\"id\": \"bbbb\", ")
            for attempt in [{ _ = try store.pods() }, { _ = try store.pod("fine") }] {
                let error = try #require(throws: EngineError.self) { try attempt() }
                guard case let .stateCorrupt(path, _) = error else {
                    Issue.record("expected .stateCorrupt, got \(error)")
                    return
                }
                #expect(path == bad)
                #expect(error.description.hasPrefix("state file \(bad) is unreadable: "))
            }
        }
    }

    @Test func corruptContainerFileNamesThePath() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            let bad = try put(store.containerDirectory(fakeID("cc")) + "/container.json", "[]")
            let error = try #require(throws: EngineError.self) { try store.containers() }
            guard case let .stateCorrupt(path, _) = error else {
                Issue.record("expected .stateCorrupt, got \(error)")
                return
            }
            #expect(path == bad)
        }
    }

    @Test func leftoversAreIgnored() throws {
        try withTempTree { dir in
            let store = try Self.store(dir)
            let pod = podRecord(id: fakeID("aaaa"), name: "real")
            try store.save(pod)
            try put("\(store.podsDirectory)/\(fakeID("bbbb")).json.tmp-4242", "{garbage")
            try put("\(store.podsDirectory)/.\(fakeID("cccc")).json", "{garbage")
            try put("\(store.podsDirectory)/README", "not a pod")
            #expect(try store.pods() == [pod])

            let container = containerRecord(id: fakeID("dd"), name: "real")
            try Self.save(container, in: store)
            try put(store.containerDirectory(container.id) + "/container.json.tmp-4242", "{garbage")
            try put(store.containerDirectory(fakeID("ee")) + "/container.json.tmp-4242", "{garbage")  // never renamed
            try FileManager.default.createDirectory(atPath: store.containerDirectory(fakeID("ff")) + "/upper", withIntermediateDirectories: true)
            try put(store.containersDirectory + "/x.tmp-1/container.json", "{garbage")
            #expect(try store.containers() == [container])
        }
    }

    @Test func aRootWithoutLayoutHasNoRecords() throws {
        try withTempTree { (dir: String) throws in
            let store = StateStore(root: dir + "/never-created", runRoot: dir + "/run")
            #expect(try store.pods().isEmpty)
            #expect(try store.containers().isEmpty)
            #expect(throws: EngineError.self) { try store.pod("anything") }
        }
    }

    @Test func withLockCreatesTheLayoutAndReturnsTheValue() async throws {
        let dir = NSTemporaryDirectory() + "/crpod-engine-lock-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = StateStore(root: dir + "/lib", runRoot: dir + "/run")
        let value = try await store.withLock { try store.pods().count + 7 }
        #expect(value == 7)
        #expect(FileManager.default.fileExists(atPath: dir + "/lib/crpod.lock"))
        #expect(FileManager.default.fileExists(atPath: dir + "/run/runc"))
    }
}
