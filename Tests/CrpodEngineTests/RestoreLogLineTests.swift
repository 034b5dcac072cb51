@testable import CrpodEngine
import Logging
import Testing

/// The daemon's one line per restore and per refusal: what, where from, result and time.
@Suite("restore log lines")
struct RestoreLogLineTests {
    @Test(arguments: [
        (RestoreLogLine.restored("/s/done/a.tar.zst", source: "spool /s", pod: "pb", name: "a-1234abcd", id: "0123456789abcdef", milliseconds: 412),
         Logger.Level.info, "restored /s/done/a.tar.zst (spool /s) into pod pb as a-1234abcd (0123456789ab) in 412 ms"),
        (.restored("an uploaded archive", source: "API PUT /v1/restore/upload from uid 0 pid 7", pod: nil, name: "c", id: "ff", milliseconds: 3),
         .info, "restored an uploaded archive (API PUT /v1/restore/upload from uid 0 pid 7) as c (ff) in 3 ms"),
        (.failed("/s/failed/b.tar.zst", source: "spool /s", code: "policy_refused", reason: "restore refused by policy: x", milliseconds: 20),
         .warning, "not restored: /s/failed/b.tar.zst (spool /s) after 20 ms [policy_refused]: restore refused by policy: x"),
        (.failed("/a/x.tar.zst", source: "API", error: EngineError.invalidInput(what: "archive", detail: "bad")),
         .warning, "not restored: /a/x.tar.zst (API) [invalid_input]: "),
        (.refusedItem("/s/fifo", source: "spool /s", error: EngineError.spoolItemRefused(path: "/s/fifo", reason: "a FIFO"), movedTo: "failed/ unopened"),
         .warning, "refused /s/fifo (spool /s) [spool_item_refused], moved to failed/ unopened: "),
        (.duplicate("/s/done/two", source: "spool /s", of: "one"), .info, "not restored /s/done/two (spool /s): the same archive (SHA-256) as one, restored before"),
    ])
    func lines(_ line: RestoreLogLine, level: Logger.Level, prefix: String) {
        #expect(line.level == level)
        #expect(line.message.hasPrefix(prefix), "\(line.message)")
        #expect(!line.message.contains("\n"))
    }
}
