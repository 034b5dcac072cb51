import Foundation
import SystemPackage
import Testing
import CrpodLinux

@testable import CrpodDrivers

@Suite struct ToolRunnerTests {
    let tools: FakeTools
    let runner = ToolRunner()

    init() throws {
        tools = try FakeTools()
    }

    @Test func collectsOutputAndTreatsNonZeroExitAsData() async throws {
        let path = try tools.canned("t", stdout: "out line\n", stderr: "err line\n", status: 3)
        let result = try await runner.run(path, ["a", "b c"])
        #expect(result.status == .exited(3))
        #expect(!result.succeeded)
        #expect(result.stdout == "out line\n")
        #expect(result.stderr == "err line\n")
        #expect(try tools.invocations("t") == [["a", "b c"]])
    }

    @Test func reportsDeathBySignal() async throws {
        let path = try tools.script("t", body: "kill -9 $$")
        let result = try await runner.run(path, [])
        #expect(result.status == .signaled(9))
        #expect(result.status.description == "killed by signal 9")
    }

    @Test func addsEnvironmentToTheInheritedOne() async throws {
        let path = try tools.script("t", body: #"echo "$CRPOD_TEST_VAR|${PATH:+has-path}""#)
        let result = try await runner.run(path, [], environment: ["CRPOD_TEST_VAR": "v1"])
        #expect(result.stdout == "v1|has-path\n")
    }

    @Test func feedsStdinFromADescriptor() async throws {
        let input = tools.path("input")
        try tools.writeFile(input, "from stdin\n", mode: 0o644)
        let fd = try FileDescriptor.open(input, .readOnly)
        defer { try? fd.close() }
        let result = try await runner.run(try tools.script("t", body: "cat"), [], stdin: fd)
        #expect(result.stdout == "from stdin\n")
    }

    @Test func stdinDefaultsToDevNull() async throws {
        let result = try await runner.run(try tools.script("t", body: "wc -c"), [])
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func sendsStdoutAndStderrToAGivenDescriptor() async throws {
        let sinkPath = tools.path("sink")
        let fd = try FileDescriptor.open(
            sinkPath, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let path = try tools.script("t", body: "echo to-out; echo to-err >&2; exit 4")
        let result = try await runner.run(path, [], stdout: fd)
        #expect(result.status == .exited(4))
        #expect(result.stdout.isEmpty && result.stderr.isEmpty)
        #expect(try tools.read(sinkPath) == "to-out\nto-err\n")
    }

    @Test func missingExecutableIsALaunchFailure() async throws {
        let missing = tools.path("no-such-tool")
        let error = await #expect(throws: DriverError.self) { try await runner.run(missing, ["x"]) }
        guard case .launchFailed(let tool, let path, let detail) = error else {
            Issue.record("expected launchFailed, got \(String(describing: error))")
            return
        }
        #expect(tool == "no-such-tool" && path == missing && !detail.isEmpty)
        #expect(error?.description.contains("cannot start no-such-tool at \(missing)") == true)
    }

    @Test func nonExecutableFileIsALaunchFailure() async throws {
        let plain = tools.path("plain")
        try tools.writeFile(plain, "#!/bin/sh\n", mode: 0o644)
        await #expect {
            try await runner.run(plain, [])
        } throws: { error in
            guard case DriverError.launchFailed(_, let path, _) = error else { return false }
            return path == plain
        }
    }

    @Test func tooMuchOutputIsReported() async throws {
        let path = try tools.script("t", body: "head -c 5000 /dev/zero | tr '\\0' x")
        await #expect {
            try await runner.run(path, [], outputLimit: 100)
        } throws: { error in
            guard case DriverError.outputLimitExceeded(let tool, let limit) = error else { return false }
            return tool == "t" && limit == 100
        }
    }

    @Test func whichFindsTheFirstExecutableRegularFile() throws {
        let first = tools.path("first")
        let second = tools.path("second")
        try FileManager.default.createDirectory(atPath: first, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: second, withIntermediateDirectories: true)
        try tools.writeFile("\(first)/tool", "", mode: 0o644)  // not executable: skipped
        try FileManager.default.createDirectory(atPath: "\(first)/dir", withIntermediateDirectories: true)
        try tools.writeFile("\(second)/tool", "", mode: 0o755)
        try tools.writeFile("\(second)/dir", "", mode: 0o755)
        let search = "::\(first):\(second)/"
        #expect(ToolRunner.which("tool", searchPath: search) == "\(second)/tool")
        #expect(ToolRunner.which("dir", searchPath: search) == "\(second)/dir")
        #expect(ToolRunner.which("absent", searchPath: search) == nil)
        #expect(ToolRunner.which("", searchPath: search) == nil)
        #expect(ToolRunner.which("\(second)/tool", searchPath: "") == "\(second)/tool")
        #expect(ToolRunner.which("\(first)/tool", searchPath: "") == nil)
    }

    @Test func diagnosticTailKeepsTheLastTenLinesAndFallsBackToStdout() {
        let stderr = (1...15).map { "line \($0)" }.joined(separator: "\n") + "\n\n"
        let result = ToolResult(status: .exited(1), stdout: "ignored", stderr: stderr)
        #expect(result.diagnosticTail() == (6...15).map { "line \($0)" }.joined(separator: "\n"))
        let onlyStdout = ToolResult(status: .exited(1), stdout: "usage: x\n", stderr: "  \n")
        #expect(onlyStdout.diagnosticTail() == "usage: x")
    }
}

extension ToolRunnerTests {
    /// A hung tool and what it started (like runc and its CRIU) are killed at the limit.
    @Test func killsTheToolAndItsProcessGroupAtTheLimit() async throws {
        let pidFile = tools.path("grandchild.pid")
        let path = try tools.script("t", body: "sleep 300 & echo $! > \(pidFile); wait")
        let started = ContinuousClock.now
        await #expect(throws: DriverError.self) {
            _ = try await runner.run(path, ["restore", "x"], timeLimit: .milliseconds(500))
        }
        #expect(ContinuousClock.now - started < .seconds(120), "ended long before the tool would have (300 s): the limit held")
        let grandchild = try #require(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(Self.isGoneOrZombie(grandchild), "the tool's child \(grandchild) outlived the time limit")
    }

    @Test func timeoutMessageNamesTheVerbAndLimit() async throws {
        let path = try tools.script("t", body: "sleep 300")
        do {
            _ = try await runner.run(path, ["--root", "/r", "restore", "x"], timeLimit: .milliseconds(300))
            Issue.record("no time limit error")
        } catch let error as DriverError {
            guard case .timedOut = error else { Issue.record("wrong error \(error)"); return }
            #expect(error.description.contains("t restore did not end within 0.3 seconds and was killed"))
        }
    }

    @Test func aToolWithinItsLimitIsUntouched() async throws {
        let path = try tools.script("t", body: "echo done")
        let result = try await runner.run(path, [], timeLimit: .seconds(30))
        #expect(result.succeeded && result.stdout == "done\n")
    }

    /// Gone, or a zombie nobody reaps (PID 1 here does not reap orphans), within 5 s.
    static func isGoneOrZombie(_ pid: Int32) -> Bool { Processes.waitUntilNotRunning(pid, seconds: 5) }
}
