import Foundation
import Testing
@testable import CrpodEngine

/// `crpod check` proves CRIU can dump sockets: a fake CRIU failing like 4.1.1 does on
/// Linux >= 6.16 makes the check fail with CRIU's log line and the fix.
@Suite("crpod check: the CRIU socket probe")
struct HostCheckSocketTests {
    static let failingDumpLog = """
        (00.004511) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted
        (00.031207) Error (criu/sockets.c:628): sockets: Can't get 1:16 opt: Operation not supported
        (00.032001) Error (criu/cr-dump.c:2111): Dumping FAILED.

        """

    /// An engine whose CRIU fails every dump like 4.1.1, with a fake crpod-sockprobe beside it.
    static func engine(in dir: String, withHelper: Bool = true) throws -> Engine {
        try put(dir + "/dump.log.canned", failingDumpLog)
        let criu = try put(dir + "/bin/criu", """
            #!/bin/bash
            case "$1" in
              --version) echo "Version: 4.1.1"; exit 0 ;;
              check) echo "Looks good."; exit 0 ;;
              dump) while [ $# -gt 0 ]; do [ "$1" = --images-dir ] && IMAGES="$2"; shift; done
                    cp "\(dir)/dump.log.canned" "$IMAGES/dump.log"; exit 1 ;;
            esac
            exit 1

            """, mode: 0o755)
        if withHelper { try putHelper(dir) }
        let settings = EngineSettings(root: dir + "/root", runRoot: dir + "/run", runtimePath: nil, criuPath: criu,
                                      criuSource: "--criu flag", cgroupParent: "/crpod", helperDirectory: dir + "/libexec")
        return Engine(settings: settings)
    }

    static func putHelper(_ dir: String) throws {
        try put(dir + "/libexec/crpod-sockprobe", "#!/bin/sh\nsleep 60 </dev/null >/dev/null 2>&1 &\necho $!\n", mode: 0o755)
    }

    static func socketFact(_ facts: [CheckFact]) throws -> CheckFact {
        try #require(facts.first { $0.name == "criu sockets" })
    }

    @Test func aCRIUThatCannotDumpSocketsFailsTheCheckWithItsLogLineAndTheFix() async throws {
        try await withTempTree { dir in
            let engine = try Self.engine(in: dir)
            let fact = try Self.socketFact(await engine.checkHost())
            #expect(!fact.ok && fact.required, "a required fact fails: crpod check exits 1")
            #expect(fact.detail.contains("Error (criu/sockets.c:628): sockets: Can't get 1:16 opt: Operation not supported"), "\(fact.detail)")
            #expect(fact.fix == "run contrib/provision.sh, or point --criu at a CRIU >= 4.2 for kernels >= 6.16")

            // The answer is cached per CRIU and kernel: without the helper it is still known.
            try FileManager.default.removeItem(atPath: dir + "/libexec/crpod-sockprobe")
            try put(dir + "/libexec/crpod-sockprobe", "#!/bin/sh\nexit 1\n", mode: 0o755)
            #expect(try Self.socketFact(await engine.checkHost()) == fact)
            #expect(try String(contentsOfFile: dir + "/run/probes.json", encoding: .utf8).contains("|\(Engine.kernelRelease())"))
        }
    }

    @Test func aProbeThatCannotRunIsReportedAndNotCached() async throws {
        try await withTempTree { dir in
            let engine = try Self.engine(in: dir, withHelper: false)
            try put(dir + "/libexec/crpod-sockprobe", "#!/bin/sh\necho 'crpod-sockprobe: unshare net: Operation not permitted' >&2\nexit 1\n", mode: 0o755)
            let first = try Self.socketFact(await engine.checkHost())
            #expect(!first.ok && first.detail.contains("could not run") && first.detail.contains("unshare net"), "\(first.detail)")
            try FileManager.default.removeItem(atPath: dir + "/libexec/crpod-sockprobe")
            try Self.putHelper(dir)
            let second = try Self.socketFact(await engine.checkHost())
            #expect(second.detail.contains("sockets.c:628"), "probed afresh: \(second.detail)")
        }
    }
}
