import Foundation
import Testing
@testable import CrpodDrivers
@testable import CrpodLinux

/// What CRIU 4.1.1 writes on Linux >= 6.16 when asked to dump any inet socket.
let criu411SocketFailureLog = """
(00.004511) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
(00.031207) Error (criu/sockets.c:628): sockets: Can't get 1:16 opt: Operation not supported
(00.031302) Error (criu/sockets.c:628): sockets: Can't get 1:34 opt: Operation not supported
(00.031400) Error (criu/cr-dump.c:1681): Dump files (pid: 4242) failed with -1
(00.032001) Error (criu/cr-dump.c:2111): Dumping FAILED.

"""

extension FakeTools {
    /// A criu that reports `version`, passes `check` and answers `dump` by writing `dumpLog`
    /// into its --images-dir and exiting with `dumpStatus`.
    @discardableResult
    func fakeCRIU(version: String = "4.1.1", dumpLog: String, dumpStatus: Int32) throws -> String {
        try writeFile(path("dump.log.canned"), dumpLog, mode: 0o644)
        return try script("criu", body: """
            case "$VERB" in
              "") echo "Version: \(version)"; exit 0 ;;
              check) echo "Looks good."; exit 0 ;;
              dump)
                while [ $# -gt 0 ]; do [ "$1" = --images-dir ] && IMAGES="$2"; shift; done
                cp "$(dirname "$0")/dump.log.canned" "$IMAGES/dump.log"
                exit \(dumpStatus) ;;
            esac
            exit 1
            """)
    }

    /// A stand-in for crpod-sockprobe: starts a detached `sleep` and prints its pid.
    @discardableResult
    func fakeSockprobe() throws -> String {
        try script("crpod-sockprobe", body: "sleep 60 </dev/null >/dev/null 2>&1 &\necho $!")
    }
}

@Suite("CRIU socket probe")
struct SocketProbeTests {
    @Test func aCRIUThatFailsLike411IsRefusedWithItsLogLineAndNothingIsLeft() async throws {
        let tools = try FakeTools()
        let criu = try tools.fakeCRIU(dumpLog: criu411SocketFailureLog, dumpStatus: 1)
        let helper = try tools.fakeSockprobe()
        let scratch = tools.path("scratch")

        let answer = await CRIUSocketProbe().probe(criu: criu, helper: helper, scratch: scratch)

        #expect(answer == .refused(reason: "(00.031207) Error (criu/sockets.c:628): sockets: Can't get 1:16 opt: Operation not supported"))
        let dump = try #require(try tools.invocations("criu").first)
        #expect(dump.prefix(2) == ["dump", "--tree"])
        #expect(dump.contains("--tcp-established"))
        #expect(dump.contains { $0.hasPrefix("net[") && $0.hasSuffix("]:crpod-sockprobe") }, "the probe's netns is external: \(dump)")
        let pid = try #require(Int32(dump[2]))
        #expect(await gone(pid), "the probe process is killed")
        #expect(try Files.listDirectory(scratch).isEmpty, "the image directory is removed")
    }

    @Test func aCRIUThatDumpsPasses() async throws {
        let tools = try FakeTools()
        let criu = try tools.fakeCRIU(version: "4.2.1", dumpLog: "(00.1) Dumping finished successfully\n", dumpStatus: 0)
        let answer = await CRIUSocketProbe().probe(criu: criu, helper: try tools.fakeSockprobe(), scratch: tools.path("scratch"))
        #expect(answer == .dumps)
    }

    @Test func aHelperThatCannotStartIsInconclusiveNotARefusal() async throws {
        let tools = try FakeTools()
        let criu = try tools.fakeCRIU(dumpLog: "", dumpStatus: 1)
        let helper = try tools.canned("crpod-sockprobe", stderr: "crpod-sockprobe: unshare net: Operation not permitted\n", status: 1)
        let answer = await CRIUSocketProbe().probe(criu: criu, helper: helper, scratch: tools.path("scratch"))
        guard case let .inconclusive(reason) = answer else {
            Issue.record("expected inconclusive, got \(answer)")
            return
        }
        #expect(reason.contains("unshare net: Operation not permitted"))
        #expect((try? tools.invocations("criu")) == nil, "CRIU is not asked")
    }

    @Test func theTCPEstablishedRefusalIsRecognisedInACRIULog() {
        let lines = CRIULog.excerpt("""
            (00.01) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
            (00.02) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.
            (00.03) Error (criu/cr-dump.c:1975): Dumping FAILED.
            """)
        let refusal = CRIULog.refusal(in: lines)
        #expect(refusal?.reason.contains("sk-inet.c:200") == true)
        #expect(refusal?.advice.contains("checkpoint it with --tcp-established") == true)
        #expect(CRIULog.refusal(in: ["(00.1) Error (criu/cr-dump.c:1975): Dumping FAILED."]) == nil)
        let restore = CRIULog.refusal(in: ["(00.15)      7: Error (criu/sk-inet.c:912): inet: Connected TCP socket in image"])
        #expect(restore?.advice == "the checkpoint holds established TCP connections: restore it with --tcp-established")
        let criu411 = CRIULog.refusal(in: CRIULog.excerpt(criu411SocketFailureLog))
        #expect(criu411?.reason.contains("sockets.c:628") == true)
        #expect(criu411?.advice.contains("run contrib/provision.sh") == true)
    }
}

/// True once `pid` has no live process (gone or a zombie), polling for up to 5 s.
func gone(_ pid: Int32) async -> Bool {
    for _ in 0..<100 {
        let stat = (try? Files.readText("/proc/\(pid)/stat")).flatMap { try? ProcStat.parse($0) }
        if stat == nil || stat?.isZombieOrDead == true { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return false
}
