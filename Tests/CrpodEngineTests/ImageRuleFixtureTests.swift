#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
@testable import CrpodEngine
import CrpodLinux
import Testing

/// The image rule on real, untampered podman 4.3.1 checkpoints (runc, CRIU): their images stay
/// within their own spec, seccomp filters included; raising one capability in them is caught.
@Suite("image rule on real podman checkpoints")
struct ImageRuleFixtureTests {
    func extracted(_ name: String) throws -> (directory: String, spec: OCISpec) {
        let directory = "/tmp/crpod-imagerule-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-\(name)"
        try? Files.removeTree(directory)
        _ = try ArchiveExtractor.extract(archive: "\(PodmanFixtures.directory)/\(name)", into: directory,
                                         keepContentOf: { _ in false }, contentLimit: 0)
        let spec = try OCISpec(data: Data(Files.read(directory + "/" + CheckpointMember.spec)), context: name)
        return (directory, spec)
    }

    @Test("an untampered podman checkpoint passes", arguments: PodmanFixtures.names)
    func untamperedPasses(name: String) throws {
        let (directory, spec) = try extracted(name)
        defer { try? Files.removeTree(directory) }
        let problems = ImageRuleCheck.problems(images: directory + "/checkpoint", spec: spec, rootPath: directory)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("the podman seccomp filter denies what the profile denies and allows what it allows")
    func podmanFilterIsEvaluated() throws {
        let (directory, _) = try extracted("standalone.tar")
        defer { try? Files.removeTree(directory) }
        let seccomp = try CRIUSeccomp.decode(Files.read(directory + "/checkpoint/seccomp.img"))
        let chain = try #require(seccomp.chain(from: 0))
        func verdict(_ name: String) throws -> UInt32 {
            try SeccompBPF.run(chain: chain, on: .init(nr: Int32(try #require(SyscallTable.x86_64.numbers[name]))))
        }
        #expect(SeccompBPF.allows(try verdict("read")))
        #expect(SeccompBPF.allows(try verdict("chroot")))
        #expect(!SeccompBPF.allows(try verdict("init_module")))
        #expect(!SeccompBPF.allows(try verdict("kexec_load")))
    }

    @Test("the wire form never carries --trust-archive: a client cannot turn the rule off")
    func trustArchiveIsNotOnTheWire() throws {
        let decoded = try JSONDecoder().decode(RestoreRequest.self, from: Data(#"{"importPath": "/a.tar", "trustArchive": true}"#.utf8))
        #expect(decoded.trustArchive == false)
        var request = RestoreRequest(importPath: "/a.tar")
        request.trustArchive = true
        let encoded = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        #expect(!encoded.contains("trust"), "\(encoded)")
    }
}
