import Testing
@testable import CrpodDrivers

@Suite("the per-container CRIU config file")
struct CRIUContainerConfigTests {
    @Test func hostDefaultsFirstThenTheUnifiedRoot() throws {
        let text = try CRIUContainerConfig.text(cgroupRoot: "/crpod/pod/ctr", unifiedOnly: false, hostDefaults: "tcp-close\n\nlog-file x.log\n")
        #expect(text == "tcp-close\nlog-file x.log\nmanage-cgroups soft\ncgroup-root \":/crpod/pod/ctr\"\n")
    }

    @Test func unifiedOnlyDumpsOnlyTheUnifiedHierarchy() throws {
        let text = try CRIUContainerConfig.text(cgroupRoot: "/c", unifiedOnly: true, hostDefaults: nil)
        #expect(text == "manage-cgroups soft\ncgroup-root \":/c\"\ncgroup-dump-controller \"\"\n")
    }

    @Test(arguments: ["/a\"b", "/a\\b", "/a\nmanage-cgroups ignore"])
    func pathsCRIUCannotReadBackAreRefused(path: String) {
        #expect(throws: CRIUContainerConfig.Problem.unquotablePath(path)) {
            try CRIUContainerConfig.text(cgroupRoot: path, unifiedOnly: false, hostDefaults: nil)
        }
    }
}
