import Testing

@testable import CrpodDrivers

@Suite struct VersionTests {
    @Test(arguments: [
        ("Version: 4.1.1\nGitID: v4.1.1\n", 4, 1, 1, 40101),
        ("Version: 3.17\n", 3, 17, 0, 31700),
        ("Version: 3.16.1", 3, 16, 1, 31601),
        ("GitID: v3.15-12-gabc\nVersion: 3.15\n", 3, 15, 0, 31500),
        ("  Version:   4.0-rc1 \n", 4, 0, 0, 40000),
        ("Version: 3.19.2-dirty\n", 3, 19, 2, 31902),
    ])
    func parsesCRIUVersions(output: String, major: Int, minor: Int, sublevel: Int, number: Int) throws {
        let version = try #require(CRIUVersion.parse(output))
        #expect(version == CRIUVersion(major: major, minor: minor, sublevel: sublevel))
        #expect(version.number == number)
    }

    @Test(arguments: ["", "criu 4.1.1", "Version:", "Version: 4", "Version: x.y", "Version: .1.2", "GitID: v4.1"])
    func rejectsOutputWithoutAVersion(output: String) {
        #expect(CRIUVersion.parse(output) == nil)
    }

    @Test func comparesByNumberAgainstThePodRestoreGate() {
        let old = CRIUVersion(major: 3, minor: 15, sublevel: 9)
        let gate = CRIUVersion(major: 3, minor: 16)
        let new = CRIUVersion(major: 4, minor: 1, sublevel: 1)
        #expect(CRIUVersion.podRestoreMinimum == 31600)
        #expect(old < gate && gate < new)
        #expect(!old.supportsPodRestore)
        #expect(gate.supportsPodRestore && new.supportsPodRestore)
        #expect(new.description == "4.1.1")
    }

    static let runcOutput = """
        runc version 1.1.5+ds1
        commit: 1.1.5+ds1-1+deb12u1
        spec: 1.0.2-dev
        go: go1.19.8
        libseccomp: 2.5.4

        """

    @Test(arguments: [
        (runcOutput, "runc", "1.1.5+ds1", "runc version 1.1.5+ds1", "1.0.2-dev", [1, 1, 5]),
        ("crun version 1.8.1\ncommit: 0b5b3bf\nrundir: /run/crun\nspec: 1.0.0\n+SYSTEMD +SELINUX\n",
         "crun", "1.8.1", "crun version 1.8.1", "1.0.0", [1, 8, 1]),
        ("\nyouki version 0.3.0\n", "youki", "0.3.0", "youki version 0.3.0", nil, [0, 3, 0]),
        ("runc version 1.2.0-rc.1\n", "runc", "1.2.0-rc.1", "runc version 1.2.0-rc.1", nil, [1, 2, 0]),
    ])
    func parsesRuntimeVersions(
        output: String, name: String, version: String, firstLine: String, spec: String?, numbers: [Int]
    ) throws {
        let parsed = try #require(RuntimeVersion.parse(output))
        #expect(parsed.name == name)
        #expect(parsed.version == version)
        #expect(parsed.firstLine == firstLine)
        #expect(parsed.spec == spec)
        #expect(parsed.numericComponents == numbers)
    }

    @Test(arguments: ["", "\n\n", "runc 1.1.5", "version 1.1.5", "runc version"])
    func rejectsRuntimeOutputWithoutAVersion(output: String) {
        #expect(RuntimeVersion.parse(output) == nil)
    }

    @Test func identifiesRuncAndCrun() throws {
        #expect(try #require(RuntimeVersion.parse(Self.runcOutput)).isRunc)
        let crun = try #require(RuntimeVersion.parse("crun version 1.18\n"))
        #expect(crun.isCrun && !crun.isRunc)
        #expect(crun.numericComponents == [1, 18])
    }
}
