#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CrpodEngine
import CrpodLinux
import Testing

/// Facts recorded by contrib/podman/make-fixtures.sh from `podman inspect` when the fixture was made.
struct PodmanFixtureFacts: Decodable {
    var fixture: String
    var compression: String
    var container_name: String
    var container_id: String
    var pod_id: String?
    var pod_shared_namespaces: [String]?
    var members: [String]
}

enum PodmanFixtures {
    static let directory = Files.parent(of: Files.parent(of: Files.parent(of: #filePath))) + "/Tests/Fixtures/podman"
    static let names = ["pod-member.tar.zst", "pod-member-pid.tar.gz", "standalone.tar"]

    static func facts(_ name: String) throws -> PodmanFixtureFacts {
        try JSONDecoder().decode(PodmanFixtureFacts.self, from: Data(Files.read("\(directory)/\(name).facts.json")))
    }
}

@Suite("crpod archive inspect reads real podman 4.3.1 archives")
struct PodmanFixtureTests {
    @Test("inspection matches what podman reported", arguments: PodmanFixtures.names)
    func inspectionMatchesPodman(name: String) throws {
        let facts = try PodmanFixtures.facts(name)
        let (inspection, _) = try ArchiveInspector.inspect(path: "\(PodmanFixtures.directory)/\(name)")
        #expect(inspection.engine == "podman")
        #expect(inspection.compression == facts.compression)
        #expect(inspection.containerName == facts.container_name)
        #expect(inspection.containerID == facts.container_id)
        #expect(inspection.podID == facts.pod_id)
        #expect(inspection.sharedNamespaces == (facts.pod_shared_namespaces ?? []))
        #expect(inspection.runtime == "runc")
        #expect(inspection.imageVersion == 2)
        #expect(inspection.statistics != nil, "stats-dump decoded")
        let expected = Set(facts.members.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })
        #expect(Set(inspection.members.map(\.name)) == expected)
        #expect(inspection.valid, "problems: \(inspection.problems)")
        #expect(inspection.dependencies.isEmpty)
    }

    @Test("a truncated podman archive is refused with a clear error, the original left as it was")
    func truncatedArchive() throws {
        let original = "\(PodmanFixtures.directory)/pod-member.tar.zst"
        let bytes = try Files.read(original)
        let cut = "/tmp/crpod-truncated-\(getpid()).tar.zst"
        try Files.writeAtomically(cut, Array(bytes.prefix(bytes.count / 2)))
        defer { try? Files.removeTree(cut) }
        #expect(throws: (any Error).self) { try ArchiveInspector.inspect(path: cut) }
        do { _ = try ArchiveInspector.inspect(path: cut) } catch {
            #expect("\(error)".contains(cut), "the error names the archive: \(error)")
        }
        #expect(try Files.read(original) == bytes)
    }
}
