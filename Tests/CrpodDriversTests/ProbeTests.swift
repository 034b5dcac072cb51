import Foundation
import Testing

@testable import CrpodDrivers

/// Answers seen from real runtimes to `restore --lsm-mount-context` without its value.
enum LsmAnswers {
    static let runcUsage = """
        Incorrect Usage: flag needs an argument: -lsm-mount-context

        NAME:
           runc restore - restore a container from a previous checkpoint
        OPTIONS:
           --lsm-mount-context value    Specify an LSM mount context to be used during restore.

        """
    static let runcStderr = #"time="2026-11-29T08:48:46Z" level=error msg="flag needs an argument: -lsm-mount-context""#
    static let runcWithoutFlag = "flag provided but not defined: -lsm-mount-context\n"
    static let newCrun = "crun: option '--lsm-mount-context' requires an argument\nTry `crun restore --help' for more information.\n"
    static let oldCrun = "crun: unknown command restore\n"
}

@Suite struct ProbeTests {
    let tools: FakeTools

    init() throws {
        tools = try FakeTools()
    }

    @Test(arguments: [
        (LsmAnswers.runcUsage, "", Int32(1), true),
        ("", LsmAnswers.runcStderr, Int32(1), true),
        ("", LsmAnswers.newCrun, Int32(64), true),
        ("", LsmAnswers.runcWithoutFlag, Int32(1), false),
        ("", LsmAnswers.oldCrun, Int32(1), false),
        ("", "", Int32(0), false),
        ("something else entirely\n", "", Int32(2), false),
    ])
    func classifiesTheMissingArgumentAnswer(stdout: String, stderr: String, status: Int32, supported: Bool) {
        let answer = RuntimeProbe.classifyMissingArgument(
            ToolResult(status: .exited(status), stdout: stdout, stderr: stderr))
        #expect(answer.isSupported == supported)
    }

    @Test func explainsWhyARuntimeIsUnsupported() {
        func reason(_ stderr: String) -> String {
            let answer = RuntimeProbe.classifyMissingArgument(ToolResult(status: .exited(1), stdout: "", stderr: stderr))
            guard case .unsupported(let reason) = answer else { return "supported?" }
            return reason
        }
        #expect(reason(LsmAnswers.oldCrun).contains("no `restore` command"))
        #expect(reason(LsmAnswers.oldCrun).contains("crun: unknown command restore"))
        #expect(reason(LsmAnswers.runcWithoutFlag).contains("does not know `restore --lsm-mount-context`"))
        #expect(reason("weird\n").contains("unrecognised answer") && reason("weird\n").contains("exit status 1"))
    }

    @Test func runcHelpListingTheFlagIsEnoughAndNoFallbackRuns() async throws {
        let runc = try tools.script("runc", body: #"[ "$1" = --help ] && { echo "   --lsm-mount-context value    Specify"; exit 0; }; exit 9"#)
        let answer = await RuntimeProbe().supportsPodRestore(at: runc)
        #expect(answer == .supported(evidence: "`restore --help` lists --lsm-mount-context"))
        #expect(try tools.invocations("runc") == [["restore", "--help"]])
    }

    @Test func runcWhoseHelpFailsIsJudgedByTheFallbackOnStdout() async throws {
        try tools.writeFile(tools.path("usage"), LsmAnswers.runcUsage, mode: 0o644)
        let runc = try tools.script("runc", body: #"[ "$1" = --help ] && exit 1; cat "$(dirname "$0")/usage"; exit 1"#)
        let answer = await RuntimeProbe().supportsPodRestore(at: runc)
        guard case .supported(let evidence) = answer else {
            Issue.record("expected supported, got \(answer)")
            return
        }
        #expect(evidence.contains("Incorrect Usage: flag needs an argument: -lsm-mount-context"))
        #expect(try tools.invocations("runc") == [["restore", "--help"], ["restore", "--lsm-mount-context"]])
    }

    @Test func runcWithoutTheFlagIsUnsupported() async throws {
        let runc = try tools.script(
            "runc", body: #"[ "$1" = --help ] && { echo "   --tcp-established"; exit 0; }; echo "flag provided but not defined: -lsm-mount-context" >&2; exit 1"#)
        let answer = await RuntimeProbe().supportsPodRestore(at: runc)
        #expect(!answer.isSupported)
        #expect(try tools.invocations("runc").count == 2)
    }

    @Test func newCrunIsSupportedAndOldCrunIsNot() async throws {
        let newCrun = try tools.canned("crun-new", stderr: LsmAnswers.newCrun, status: 64)
        let oldCrun = try tools.canned("crun-old", stderr: LsmAnswers.oldCrun, status: 1)
        #expect(await RuntimeProbe().supportsPodRestore(at: newCrun).isSupported)
        let old = await RuntimeProbe().supportsPodRestore(at: oldCrun)
        guard case .unsupported(let reason) = old else {
            Issue.record("old crun judged supported")
            return
        }
        #expect(reason.contains("unknown command restore"))
    }

    @Test func aMissingRuntimeIsUnsupportedWithTheLaunchError() async {
        let answer = await RuntimeProbe().supportsPodRestore(at: tools.path("absent"))
        guard case .unsupported(let reason) = answer else {
            Issue.record("expected unsupported")
            return
        }
        #expect(reason.contains("cannot probe \(tools.path("absent"))"))
    }

    @Test func readsTheRuntimeVersion() async throws {
        let runc = try tools.canned("runc", stdout: VersionTests.runcOutput)
        let version = try await RuntimeProbe().version(at: runc)
        #expect(version.name == "runc" && version.version == "1.1.5+ds1")
        #expect(try tools.invocations("runc") == [["--version"]])
    }

    @Test func readsTheCRIUVersionAndRejectsGarbage() async throws {
        let criu = try tools.canned("criu", stdout: "Version: 4.1.1\nGitID: v4.1.1\n")
        #expect(try await CRIUProbe().version(at: criu).number == 40101)
        #expect(try tools.invocations("criu") == [["--version"]])
        let odd = try tools.canned("odd", stdout: "criu, the fourth\n")
        await #expect {
            try await CRIUProbe().version(at: odd)
        } throws: { error in
            guard case DriverError.unexpectedOutput(let tool, let detail) = error else { return false }
            return tool == "odd" && detail.contains("criu, the fourth")
        }
    }

    @Test func aFailingCRIUVersionCarriesItsStderr() async throws {
        let criu = try tools.canned("criu", stderr: "criu: cannot load libnl\n", status: 127)
        await #expect {
            try await CRIUProbe().version(at: criu)
        } throws: { error in
            guard case DriverError.toolFailed(_, _, let status, let tail) = error else { return false }
            return status == .exited(127) && tail == "criu: cannot load libnl"
                && "\(error)".contains("criu failed (exit status 127): criu: cannot load libnl")
        }
    }

    @Test func criuCheckReportsSuccessAndFailureWithOutput() async throws {
        let good = try tools.canned("good", stdout: "Looks good.\n")
        let bad = try tools.canned("bad", stderr: "Error (criu/cr-check.c:1): UFFD is not supported\n", status: 1)
        let okResult = await CRIUProbe().check(at: good)
        #expect(okResult.ok && okResult.output.contains("Looks good."))
        let badResult = await CRIUProbe().check(at: bad)
        #expect(!badResult.ok && badResult.output.contains("UFFD is not supported"))
        _ = await CRIUProbe().check(feature: "external_net_ns", at: good)
        #expect(try tools.invocations("good") == [["check"], ["check", "--feature", "external_net_ns"]])
    }
}

@Suite struct CRIULocateTests {
    let tools: FakeTools
    let pathDir: String
    let searchPath: String

    init() throws {
        tools = try FakeTools()
        pathDir = tools.path("bin")
        try FileManager.default.createDirectory(atPath: pathDir, withIntermediateDirectories: true)
        try tools.writeFile("\(pathDir)/criu", "", mode: 0o755)
        try tools.writeFile("\(pathDir)/criu-dev", "", mode: 0o755)
        try tools.writeFile(tools.path("flag-criu"), "", mode: 0o755)
        try tools.writeFile(tools.path("config-criu"), "", mode: 0o755)
        searchPath = "\(tools.path("empty")):\(pathDir)"
    }

    @Test func prefersTheFlagThenTheConfigurationThenPATH() throws {
        let flag = tools.path("flag-criu")
        let config = tools.path("config-criu")
        let byFlag = try #require(CRIUProbe.locate(explicit: flag, configured: config, searchPath: searchPath))
        #expect(byFlag.path == flag && byFlag.source == CRIUProbe.sourceFlag)
        let byConfig = try #require(CRIUProbe.locate(explicit: nil, configured: config, searchPath: searchPath))
        #expect(byConfig.path == config && byConfig.source == CRIUProbe.sourceConfiguration)
        let byPath = try #require(CRIUProbe.locate(explicit: "", configured: nil, searchPath: searchPath))
        #expect(byPath.path == "\(pathDir)/criu" && byPath.source == CRIUProbe.sourcePath)
    }

    @Test func resolvesBareNamesOnPATH() throws {
        let found = try #require(CRIUProbe.locate(explicit: "criu-dev", configured: nil, searchPath: searchPath))
        #expect(found.path == "\(pathDir)/criu-dev" && found.source == CRIUProbe.sourceFlag)
    }

    @Test func aBrokenFlagDoesNotFallBackSilently() {
        let missing = tools.path("missing-criu")
        #expect(CRIUProbe.locate(explicit: missing, configured: nil, searchPath: searchPath) == nil)
        #expect(CRIUProbe.locate(explicit: nil, configured: missing, searchPath: searchPath) == nil)
        #expect(throws: DriverError.self) {
            try CRIUProbe.require(explicit: missing, configured: nil, searchPath: searchPath)
        }
    }

    @Test func requireNamesTheDirectoriesSearched() throws {
        let empty = tools.path("empty")
        let error = #expect(throws: DriverError.self) {
            try CRIUProbe.require(explicit: nil, configured: nil, searchPath: "\(empty):/nonexistent")
        }
        guard case .toolNotFound(let name, let searched) = error else {
            Issue.record("expected toolNotFound")
            return
        }
        #expect(name == "criu" && searched == [empty, "/nonexistent"])
        #expect(error?.description == "criu not found: searched \(empty):/nonexistent")
    }
}
