import Foundation
import SystemPackage
import Testing

@testable import CrpodDrivers

@Suite struct RuncArgumentTests {
    let plain = RuncDriver(runtimePath: "/usr/bin/runc", stateRoot: "/run/crpod/runc", criuPath: nil)
    let withCRIU = RuncDriver(runtimePath: "/usr/bin/runc", stateRoot: "/r", criuPath: "/usr/local/sbin/criu")

    @Test func globalArguments() {
        #expect(plain.globalArguments(logPath: nil) == ["--root", "/run/crpod/runc"])
        #expect(withCRIU.globalArguments(logPath: nil) == ["--root", "/r", "--criu", "/usr/local/sbin/criu"])
        #expect(
            withCRIU.globalArguments(logPath: "/l.json")
                == ["--root", "/r", "--criu", "/usr/local/sbin/criu", "--log", "/l.json", "--log-format", "json"])
    }

    @Test func create() {
        #expect(
            plain.createArguments(id: "c1", bundle: "/b", pidFile: "/b/pid", logPath: "/b/log")
                == ["--root", "/run/crpod/runc", "--log", "/b/log", "--log-format", "json",
                    "create", "--bundle", "/b", "--pid-file", "/b/pid", "c1"])
    }

    @Test func startStateList() {
        #expect(plain.startArguments(id: "c1", logPath: nil) == ["--root", "/run/crpod/runc", "start", "c1"])
        #expect(plain.stateArguments(id: "c1", logPath: nil) == ["--root", "/run/crpod/runc", "state", "c1"])
        #expect(plain.listArguments(logPath: nil) == ["--root", "/run/crpod/runc", "list", "--format", "json"])
        #expect(
            withCRIU.startArguments(id: "c1", logPath: "/l")
                == ["--root", "/r", "--criu", "/usr/local/sbin/criu", "--log", "/l", "--log-format", "json", "start", "c1"])
    }

    @Test func kill() {
        #expect(plain.killArguments(id: "c1", signal: 15, all: false, logPath: nil) == ["--root", "/run/crpod/runc", "kill", "c1", "15"])
        #expect(plain.killArguments(id: "c1", signal: 9, all: true, logPath: nil) == ["--root", "/run/crpod/runc", "kill", "--all", "c1", "9"])
    }

    @Test func delete() {
        #expect(plain.deleteArguments(id: "c1", force: false, logPath: nil) == ["--root", "/run/crpod/runc", "delete", "c1"])
        #expect(plain.deleteArguments(id: "c1", force: true, logPath: nil) == ["--root", "/run/crpod/runc", "delete", "--force", "c1"])
    }

    @Test func errorDescriptionNamesToolAndVerb() {
        let error = DriverError.toolFailed(
            tool: "runc", arguments: plain.deleteArguments(id: "c1", force: true, logPath: "/l"),
            status: .exited(1), stderrTail: "container does not exist")
        #expect(error.description.hasPrefix("runc delete failed (exit status 1): container does not exist\n"))
        #expect(DriverError.verb(in: ["--version"]) == nil)
    }
}

@Suite struct RuncDriverTests {
    let tools: FakeTools

    init() throws {
        tools = try FakeTools()
    }

    func driver(_ body: String, criu: String? = nil) throws -> RuncDriver {
        RuncDriver(runtimePath: try tools.script("runc", body: body), stateRoot: tools.path("root"), criuPath: criu)
    }

    @Test func createHandsStdioToTheChildAndPassesArguments() async throws {
        let runc = try driver("echo created-out; echo created-err >&2")
        let stdioPath = tools.path("ctr.log")
        let stdio = try FileDescriptor.open(stdioPath, .writeOnly, options: [.create], permissions: [.ownerReadWrite])
        defer { try? stdio.close() }
        try await runc.create(id: "c1", bundle: "/b", pidFile: "/b/pid", stdio: stdio, logPath: tools.path("runc.log"))
        #expect(try tools.read(stdioPath) == "created-out\ncreated-err\n")
        #expect(try tools.invocations("runc") == [runc.createArguments(id: "c1", bundle: "/b", pidFile: "/b/pid", logPath: tools.path("runc.log"))])
    }

    /// What runc 1.1.5 does on a failed create with `--log`: a JSON error line in the log and
    /// the same text on stderr, which went to the container's stdio.
    static let failingCreate = """
        echo '{"level":"warning","msg":"ignored","time":"t"}' >> "$LOG"
        echo '{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"/bin/nosuch\\": stat /bin/nosuch: no such file or directory","time":"t"}' >> "$LOG"
        echo 'runc create failed: plain copy on stderr' >&2
        exit 1
        """

    @Test func aFailedCreateReportsTheLogFileErrors() async throws {
        let runc = try driver(Self.failingCreate)
        let log = tools.path("runc.log")
        try tools.writeFile(log, #"{"level":"error","msg":"an older failure","time":"t"}"# + "\n", mode: 0o644)
        await #expect {
            try await runc.create(id: "c1", bundle: "/b", pidFile: "/p", stdio: nil, logPath: log)
        } throws: { error in
            guard case DriverError.toolFailed(let tool, _, let status, let tail) = error else { return false }
            return tool == "runc" && status == .exited(1)
                && tail == #"runc create failed: unable to start container process: exec: "/bin/nosuch": stat /bin/nosuch: no such file or directory"#
                && "\(error)".hasPrefix("runc create failed (exit status 1): unable to start container process")
        }
    }

    @Test func createWithoutALogPathUsesATemporaryLog() async throws {
        let runc = try driver(Self.failingCreate)
        let error = await #expect(throws: DriverError.self) {
            try await runc.create(id: "c1", bundle: "/b", pidFile: "/p", stdio: nil)
        }
        #expect(error?.description.contains("stat /bin/nosuch") == true)
        let arguments = try #require(try tools.invocations("runc").first)
        let logIndex = try #require(arguments.firstIndex(of: "--log"))
        let temporaryLog = arguments[logIndex + 1]
        #expect(temporaryLog.contains("crpod-runc-create-") && temporaryLog.hasSuffix(".log"))
        #expect(!FileManager.default.fileExists(atPath: temporaryLog))
    }

    @Test func stateDecodesAndKeepsUnknownStatus() async throws {
        try tools.writeFile(tools.path("state.json"), #"{"ociVersion":"1.0.2-dev","id":"c1","pid":42,"status":"weird"}"#, mode: 0o644)
        let runc = try driver(#"cat "$(dirname "$0")/state.json""#, criu: "/sbin/criu")
        let state = try #require(try await runc.state(id: "c1"))
        #expect(state.id == "c1" && state.pid == 42 && state.status.rawValue == "weird")
        #expect(try tools.invocations("runc") == [["--root", tools.path("root"), "--criu", "/sbin/criu", "state", "c1"]])
    }

    @Test func stateOfAMissingContainerIsNil() async throws {
        let runc = try driver(#"echo 'time="t" level=error msg="container does not exist"' >&2; exit 1"#)
        #expect(try await runc.state(id: "nope") == nil)
    }

    @Test func stateFailingOtherwiseThrows() async throws {
        let runc = try driver(#"echo 'time="t" level=error msg="open /run/x/state.json: permission denied"' >&2; exit 1"#)
        await #expect {
            try await runc.state(id: "c1")
        } throws: { error in
            guard case DriverError.toolFailed(_, _, _, let tail) = error else { return false }
            return tail == "open /run/x/state.json: permission denied"
        }
    }

    @Test func stateWithGarbageIsUnexpectedOutput() async throws {
        let runc = try driver("echo not-json")
        await #expect {
            try await runc.state(id: "c1")
        } throws: { error in
            guard case DriverError.unexpectedOutput(let tool, let detail) = error else { return false }
            return tool == "runc" && detail.contains("state c1")
        }
    }

    @Test func listOfNullIsEmptyAndArraysDecode() async throws {
        #expect(try await driver("echo null").list().isEmpty)
        let two = #"[{"id":"a","pid":1,"status":"running"},{"id":"b","pid":0,"status":"paused"}]"#
        let states = try await driver("echo '\(two)'").list()
        #expect(states.map(\.id) == ["a", "b"] && states.map(\.status) == [.running, .paused])
    }

    @Test func startKillDeleteRunTheirVerbs() async throws {
        let runc = try driver("exit 0")
        try await runc.start(id: "c1")
        try await runc.kill(id: "c1", signal: 9, all: true)
        try await runc.kill(id: "c1")
        try await runc.delete(id: "c1", force: true)
        let verbs = try tools.invocations("runc").map { Array($0.dropFirst(2)) }
        #expect(verbs == [["start", "c1"], ["kill", "--all", "c1", "9"], ["kill", "c1", "15"], ["delete", "--force", "c1"]])
    }

    @Test func aFailingVerbGivesTheLastTenLinesOfStderr() async throws {
        let runc = try driver(#"for i in $(seq 1 15); do echo "problem $i" >&2; done; exit 2"#)
        let error = await #expect(throws: DriverError.self) { try await runc.delete(id: "c1") }
        guard case .toolFailed(let tool, let arguments, let status, let tail) = error else {
            Issue.record("expected toolFailed")
            return
        }
        #expect(tool == "runc" && status == .exited(2) && arguments.last == "c1")
        #expect(tail == (6...15).map { "problem \($0)" }.joined(separator: "\n"))
        #expect(error?.description.hasPrefix("runc delete failed (exit status 2): problem 6\n") == true)
    }

    @Test func aFailingVerbWithALogUsesItsErrorEntries() async throws {
        let runc = try driver(#"echo '{"level":"error","msg":"container not running","time":"t"}' >> "$LOG"; echo "container not running" >&2; exit 1"#)
        let log = tools.path("kill.log")
        await #expect {
            try await runc.kill(id: "c1", signal: 9, logPath: log)
        } throws: { error in
            guard case DriverError.toolFailed(_, let arguments, _, let tail) = error else { return false }
            return tail == "container not running" && arguments.contains("--log-format")
        }
    }
}

@Suite struct RuncSysVReattachTests {
    @Test func runcCannotLeaveTasksStoppedForASysVAttachSoItRefusesBeforeRunning() async throws {
        let runc = RuncDriver(runtimePath: "/nonexistent/runc", stateRoot: "/r", criuPath: nil)
        var options = RestoreOptions(imagePath: "/i", workPath: "/w", bundle: "/b", pidFile: "/b/pid")
        options.sysvReattach = SysVReattach(helper: "/bin/crpod-shmattach", attachments: [])
        await #expect {
            try await runc.restore(id: "c1", options: options, stdio: nil, logPath: "/l.json")
        } throws: { error in
            "\(error)".contains("use --engine native")
        }
    }
}
