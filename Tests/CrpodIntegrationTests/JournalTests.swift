#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// With JOURNAL_STREAM naming its stderr, the daemon logs to journald's native socket with
/// structured fields. No journald runs here: the test binds journald's socket path itself and
/// reads what arrives (only when no real journald owns it).
@Suite("journald logging", .serialized, .enabled(if: PrivilegedHost.enabled && !Files.exists("/run/systemd/journal/socket"), "needs root and no running journald"))
struct JournalTests {
    @Test("log records arrive as structured journal entries, not on stderr")
    func structuredFields() async throws {
        try await withCrpod { crpod in
            let made = !Files.exists("/run/systemd")
            try Files.makeDirectories("/run/systemd/journal", mode: 0o755)
            defer { try? Files.removeTree(made ? "/run/systemd" : "/run/systemd/journal") }
            let journal = try NotifyListener(path: "/run/systemd/journal/socket")
            let daemon = try await DaemonProcess(crpod, journalStream: true)
            _ = try await daemon.json(PodJSON.self, "POST", "/v1/pods", body: #"{"name":"pj"}"#, status: 201)
            let entry = try #require(await journal.receive { $0.contains("MESSAGE=pod created") }, "no journal entry for the pod")
            let fields = Set(entry.split(separator: "\n").map(String.init))
            for field in ["PRIORITY=6", "SYSLOG_IDENTIFIER=crpod", "CRPOD_LABEL=crpod", "CRPOD_POD=pj"] {
                #expect(fields.contains(field), "\(field) missing in \(fields.sorted())")
            }
            #expect(fields.contains { $0.hasPrefix("CRPOD_ID=") } && fields.contains { $0.hasPrefix("CODE_FILE=") })
            kill(daemon.pid, SIGHUP)
            let reload = try #require(await journal.receive { $0.contains("MESSAGE=configuration reloaded") })
            #expect(reload.contains("PRIORITY=5"), "notice → syslog priority 5")
            #expect(await daemon.stop() == 0)
            #expect(!(try Files.readText(crpod.base + "/daemon.log")).contains("pod created"), "not written to stderr as well")
        }
    }
}
