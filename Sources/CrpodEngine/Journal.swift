#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux

/// One thing a mutating operation created, and so must undo if it does not finish.
public enum UndoStep: Codable, Sendable, Equatable {
    case removeTree(String)
    case unmount(String)
    /// A cgroup (relative path) in every hierarchy; its processes are killed first.
    case removeCgroup(String)
    case terminate(ProcessIdentity)
    /// `runtime delete --force`, after killing any runtime process still working on the id.
    case deleteRuntime(id: String, cgroup: String)
    /// CNI DEL of an attachment (in the infra's netns while it lives), with ADD's result when known.
    case cniDelete(CNIAttachment, infra: ProcessIdentity?, prevResult: JSONValue?)
    /// CRIU's network lock (iptables CRIU chain, nft `inet CRIU-*` tables) removed from the
    /// infra's netns; journaled before CRIU runs for a pod member.
    case removeCRIUNetworkLock(infra: ProcessIdentity)
    /// `cgroup.freeze` 0 in the cgroup v2 hierarchy (a whole-pod checkpoint's cut).
    case thawCgroup(String)

    var summary: String {
        switch self {
        case let .removeTree(path): return "remove \(path)"
        case let .unmount(path): return "unmount \(path)"
        case let .removeCgroup(path): return "remove cgroup \(path)"
        case let .terminate(process): return "stop pid \(process.pid)"
        case let .deleteRuntime(id, _): return "delete runtime state \(id.prefix(12))"
        case let .cniDelete(attachment, _, _): return "CNI DEL \(attachment.network.name) for \(attachment.containerID.prefix(12))"
        case let .removeCRIUNetworkLock(infra): return "remove CRIU's network lock in the netns of pid \(infra.pid)"
        case let .thawCgroup(path): return "thaw cgroup \(path)"
        }
    }
}

/// The on-disk intent of one in-flight operation: what it has created so far. Written
/// (atomically) before each step that creates something, removed when the operation commits or
/// rolls back. A crpod killed mid-operation leaves it behind; the next holder of the state lock
/// undoes it (`Engine.reconcile`), so a SIGKILL never leaks cgroups, runtime state or mounts.
public struct JournalEntry: Codable, Sendable, Equatable {
    public var operation: String
    public var pid: Int32
    public var started: String
    public var steps: [UndoStep]
    /// Undone even when the operation committed (temporary work directories).
    public var temporaries: [UndoStep]
}

/// The journal directory `<root>/journal`, and beside it `<root>/leases`: while an operation
/// runs it holds a `FileLease` on `leases/<id>.lock`, so its entry is told apart from a dead
/// operation's even when the operation runs (partly) without the state lock.
struct Journal: Sendable {
    let directory: String

    var leaseDirectory: String { Files.parent(of: directory) + "/leases" }
    func path(_ id: String) -> String { directory + "/" + id + ".json" }
    func leasePath(_ id: String) -> String { leaseDirectory + "/" + id + ".lock" }

    /// Taken before the entry is first written, released after it is removed.
    func lease(_ id: String) throws -> FileLease {
        try step("take journal lease \(leasePath(id))") {
            try Files.makeDirectories(leaseDirectory, mode: 0o700)
            return try FileLease.acquire(leasePath(id))
        }
    }

    func write(_ entry: JournalEntry, id: String) throws {
        let data = try JSONEncoder().encode(entry)
        try step("write journal \(path(id))") {
            try Files.makeDirectories(directory, mode: 0o700)
            try Files.writeAtomically(path(id), Array(data), mode: 0o600)
        }
    }

    func remove(_ id: String) {
        try? Files.removeTree(path(id))
        try? Files.removeTree(leasePath(id))
    }

    /// Entries left by operations that died (their lease is free); an unreadable entry is
    /// reported with no entry (and removed by the caller like any other). Entries of
    /// operations still running — in this process or another — are not leftovers.
    func leftovers() -> [(id: String, entry: JournalEntry?)] {
        guard let names = try? Files.listDirectory(directory) else { return [] }
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().compactMap { name in
            let id = String(name.dropLast(5))
            guard !FileLease.isHeld(leasePath(id)) else { return nil }
            // Read after the lease check: an operation that just finished removed its entry first.
            guard Files.exists(path(id)) else { return nil }
            let entry = (try? Files.read(path(id))).flatMap { try? JSONDecoder().decode(JournalEntry.self, from: Data($0)) }
            return (id, entry)
        }
    }

    /// Leases whose operation died before writing its entry or after removing it.
    func removeStaleLeases() {
        guard let names = try? Files.listDirectory(leaseDirectory) else { return }
        for name in names where name.hasSuffix(".lock") {
            let id = String(name.dropLast(5))
            if !Files.exists(path(id)) && !FileLease.isHeld(leasePath(id)) { try? Files.removeTree(leasePath(id)) }
        }
    }
}
