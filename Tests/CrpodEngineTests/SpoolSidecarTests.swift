#if canImport(Glibc)
import Glibc
#endif
@testable import CrpodEngine
import CrpodLinux
import Foundation
import Testing

/// Sidecars and spool items are read through a directory fd, never followed, bounded.
@Suite("spool sidecars and items (temp directories)")
struct SpoolSidecarTests {
    @Test func aValidSidecarNamesOnePod() throws {
        try withTempTree { dir in
            try put(dir + "/a.tar.zst.target", "pod-b\n")
            #expect(try SpoolSidecar.read("a.tar.zst.target", in: OpenDirectory(dir)) == "pod-b")
            #expect(try SpoolSidecar.read("missing.target", in: OpenDirectory(dir)) == nil, "no sidecar: no pod from it")
        }
    }

    @Test(arguments: [
        ("two lines", "pa\npb\n", "must match"), ("spaces inside", "p a", "must match"), ("empty", "\n", "must not be empty"),
        ("too big", String(repeating: "p", count: 257), "over the limit of 256"),
    ])
    func aBadSidecarFailsItsArchive(_ what: String, content: String, reason: String) throws {
        try withTempTree { dir in
            try put(dir + "/a.target", content)
            let error = #expect(throws: EngineError.self, "\(what)") { try SpoolSidecar.read("a.target", in: OpenDirectory(dir)) }
            #expect(error.map { "\($0)" }?.contains(reason) == true, "\(what): \(String(describing: error))")
            #expect(error.map { FailureClass.of($0).code } == "spool_item_refused")
        }
    }

    @Test func aSidecarThatIsNotARegularFileIsRefusedWithoutBlocking() throws {
        try withTempTree { dir in
            try #require(mkfifo(dir + "/fifo.target", 0o600) == 0)
            try #require(symlink("/etc/hostname", dir + "/link.target") == 0)
            for (name, kind) in [("fifo.target", "FIFO"), ("link.target", "symbolic link to /etc/hostname")] {
                let error = #expect(throws: EngineError.self) { try SpoolSidecar.read(name, in: OpenDirectory(dir)) }
                #expect(error.map { "\($0)" }?.contains(kind) == true, "\(String(describing: error))")
            }
        }
    }

    @Test func aMoveChecksThatTheOpenedFileIsWhatMoved() throws {
        try withTempTree { dir in
            try put(dir + "/in/x.tar", "first")
            try put(dir + "/out/keep", "")
            let incoming = try OpenDirectory(dir + "/in"), target = try OpenDirectory(dir + "/out")
            let opened = try incoming.openRegularFile("x.tar", maxBytes: 1024)
            // Swapped after the check: another file now has the name.
            try #require(rename(dir + "/in/x.tar", dir + "/in/.old") == 0)
            try put(dir + "/in/x.tar", "second")
            let error = #expect(throws: LinuxError.self) { try incoming.move("x.tar", to: target, expected: opened.identity) }
            #expect(error.map { "\($0)" }?.contains("replaced after it was checked") == true)
            #expect(try opened.readAll() == Array("first".utf8), "the fd still reads the checked file")
        }
    }
}
