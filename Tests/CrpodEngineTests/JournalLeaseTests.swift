#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import CrpodLinux
@testable import CrpodEngine

/// L1: an operation's journal entry is a leftover only once its owner is gone, so operations
/// working outside the state lock are never undone by another operation's reconcile.
@Suite("journal leases")
struct JournalLeaseTests {
    @Test("a running operation's entry is not a leftover; a finished one leaves nothing")
    func liveEntryIsSkipped() async throws {
        try await withTempTree { dir in
            let journal = Journal(directory: dir + "/journal")
            let undone = UndoLog()
            let rollback = Rollback(operation: "restore x", journal: journal) { step in undone.append(step) }
            try rollback.add(.removeTree(dir + "/work/restore-1"))
            #expect(try Files.listDirectory(journal.directory).count == 1)
            #expect(FileLease.isHeld(try #require(try Files.listDirectory(journal.leaseDirectory).first.map { journal.leaseDirectory + "/" + $0 })))
            #expect(journal.leftovers().isEmpty, "the operation is alive")
            await rollback.run()
            await rollback.run()
            #expect(undone.steps == [.removeTree(dir + "/work/restore-1")], "undone once")
            #expect(try Files.listDirectory(journal.directory).isEmpty)
            #expect(try Files.listDirectory(journal.leaseDirectory).isEmpty)
        }
    }

    @Test("an entry whose lease another process holds is skipped until that process dies")
    func leaseOfAnotherProcess() async throws {
        try await withTempTree { dir in
            let journal = Journal(directory: dir + "/journal")
            try journal.write(JournalEntry(operation: "restore y", pid: 1, started: "now", steps: [], temporaries: []), id: "abc")
            try Files.makeDirectories(journal.leaseDirectory, mode: 0o700)
            let holder = Process()
            // One process holds it: the shell takes the lock on fd 9 and becomes `sleep`.
            holder.executableURL = URL(fileURLWithPath: "/bin/sh")
            holder.arguments = ["-c", "exec 9>\"$0\"; flock -x 9; exec sleep 60", journal.leasePath("abc")]
            try holder.run()
            defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
            var held = false
            for _ in 0..<200 where !held {
                held = FileLease.isHeld(journal.leasePath("abc"))
                if !held { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(held, "flock took the lease")
            #expect(journal.leftovers().isEmpty, "its owner lives")
            kill(holder.processIdentifier, SIGKILL)
            let child = HeldProcess(process: holder)
            try await BlockingThread.run("wait for the lease holder") { _ in child.process.waitUntilExit() }
            #expect(journal.leftovers().map(\.id) == ["abc"], "its owner died: the entry is a leftover")
        }
    }

    @Test("a stale lease without an entry is swept, a held one is kept")
    func staleLeases() throws {
        try withTempTree { dir in
            let journal = Journal(directory: dir + "/journal")
            let live = try journal.lease("live")
            try Files.writeAtomically(journal.leasePath("dead"), [], mode: 0o600)
            journal.removeStaleLeases()
            #expect(try Files.listDirectory(journal.leaseDirectory) == ["live.lock"])
            live.release()
            #expect(try Files.listDirectory(journal.leaseDirectory).isEmpty)
        }
    }
}

final class UndoLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [UndoStep] = []
    func append(_ step: UndoStep) { lock.withLock { recorded.append(step) } }
    var steps: [UndoStep] { lock.withLock { recorded } }
}

/// The lease holder, handed to the thread that waits for it (off the cooperative pool).
private struct HeldProcess: @unchecked Sendable { let process: Process }
