import Foundation
import Testing

@testable import CrpodDrivers

@Suite struct RuntimeStateTests {
    /// `runc state c3` as printed by runc 1.1.5 here, plus annotations.
    static let stateJSON = """
        {
          "ociVersion": "1.0.2-dev",
          "id": "c3",
          "pid": 9994,
          "status": "created",
          "bundle": "/tmp/rexp/bundle",
          "rootfs": "/tmp/rexp/bundle/rootfs",
          "created": "2026-11-29T08:48:59.296067766Z",
          "annotations": {"io.crpod.pod": "web"},
          "owner": ""
        }
        """

    @Test func decodesRuncState() throws {
        let state = try RuntimeState.decode(state: Self.stateJSON)
        #expect(state.ociVersion == "1.0.2-dev")
        #expect(state.id == "c3" && state.pid == 9994)
        #expect(state.status == .created)
        #expect(state.bundle == "/tmp/rexp/bundle" && state.rootfs == "/tmp/rexp/bundle/rootfs")
        #expect(state.created == "2026-11-29T08:48:59.296067766Z")
        #expect(state.annotations == ["io.crpod.pod": "web"])
        #expect(state.owner == "")
    }

    @Test(arguments: [
        ("created", true), ("running", true), ("paused", true), ("stopped", true), ("creating", true),
        ("weird", false),
    ])
    func keepsEveryStatusAndRoundTripsIt(raw: String, known: Bool) throws {
        let json = #"{"id":"x","pid":0,"status":"\#(raw)"}"#
        let state = try RuntimeState.decode(state: json)
        #expect(state.status.rawValue == raw)
        #expect(state.status.isKnown == known)
        let encoded = try JSONEncoder().encode(state)
        let again = try JSONDecoder().decode(RuntimeState.self, from: encoded)
        #expect(again == state)
        #expect(String(decoding: encoded, as: UTF8.self).contains(#""status":"\#(raw)""#))
    }

    @Test func pausedIsItsOwnConstant() throws {
        let state = try RuntimeState.decode(state: #"{"id":"p","status":"paused"}"#)
        #expect(state.status == .paused && state.status != .running)
        #expect(state.pid == 0 && state.annotations.isEmpty && state.owner == nil)
    }

    @Test func stateWithoutIdOrStatusIsRejected() {
        #expect(throws: DecodingError.self) { try RuntimeState.decode(state: #"{"id":"x"}"#) }
        #expect(throws: DecodingError.self) { try RuntimeState.decode(state: #"{"status":"running"}"#) }
    }

    @Test(arguments: ["null", "null\n", "  null \n", "", "\n"])
    func emptyListForms(json: String) throws {
        #expect(try RuntimeState.decode(list: json).isEmpty)
    }

    @Test func decodesRuncList() throws {
        let json = """
            [{"ociVersion":"1.0.2-dev","id":"a","pid":10,"status":"running","bundle":"/b/a","rootfs":"/b/a/rootfs",\
            "created":"2026-11-29T08:48:59Z","owner":"root"},\
            {"ociVersion":"1.0.2-dev","id":"b","pid":0,"status":"stopped","bundle":"/b/b","rootfs":"/b/b/rootfs",\
            "created":"2026-11-29T08:49:00Z","owner":"root"}]

            """
        let states = try RuntimeState.decode(list: json)
        #expect(states.map(\.id) == ["a", "b"])
        #expect(states.map(\.status) == [.running, .stopped])
        #expect(states.first?.owner == "root")
    }
}

@Suite struct RuncLogTests {
    @Test func extractsTheMessageFromLogrusTextLines() {
        let line = #"time="2026-11-29T08:49:03Z" level=error msg="container \"c1\" does not exist""#
        #expect(RuncLog.plainMessage(line[...]) == #"container "c1" does not exist"#)
        #expect(RuncLog.plainMessage("runc create failed: chdir /x: no such file"[...]) == "runc create failed: chdir /x: no such file")
        #expect(RuncLog.plainMessage(#"level=error msg="unterminated"#[...]) == #"level=error msg="unterminated"#)
    }

    @Test func keepsOnlyErrorEntriesOfTheJSONLog() {
        let log = """
            {"level":"info","msg":"starting","time":"t"}
            {"level":"warning","msg":"cgroup v1 soon gone","time":"t"}
            not json at all
            {"level":"error","msg":"runc create failed: unable to start container process","time":"t"}
            {"level":"fatal","msg":"really bad","time":"t"}

            """
        #expect(RuncLog.errorMessages(jsonLines: log) == ["runc create failed: unable to start container process", "really bad"])
    }

    @Test func diagnosticsPreferTheLogThenStderrThenStdout() {
        let failed = ToolResult(status: .exited(1), stdout: "usage\n", stderr: #"time="t" level=error msg="boom""# + "\n")
        #expect(RuncLog.diagnostics(logMessages: ["from log"], result: failed) == "from log")
        #expect(RuncLog.diagnostics(logMessages: [], result: failed) == "boom")
        let quiet = ToolResult(status: .exited(1), stdout: "usage\n", stderr: "")
        #expect(RuncLog.diagnostics(logMessages: [], result: quiet) == "usage")
    }

    @Test func readsOnlyWhatWasAppendedAfterAnOffset() throws {
        let tools = try FakeTools()
        let path = tools.path("log.json")
        #expect(RuncLog.size(of: path) == 0)
        try tools.writeFile(path, #"{"level":"error","msg":"old"}"# + "\n", mode: 0o644)
        let offset = RuncLog.size(of: path)
        try tools.writeFile(path, #"{"level":"error","msg":"old"}"# + "\n" + #"{"level":"error","msg":"new"}"# + "\n", mode: 0o644)
        #expect(RuncLog.errorMessages(jsonLines: RuncLog.read(path, from: offset)) == ["new"])
        #expect(RuncLog.read(tools.path("absent"), from: 0) == "")
    }
}
