import Foundation
import Testing
import CrpodLinux
@testable import CrpodEngine

/// L1: the store tells a live pull's download from a killed one's by its lease alone.
@Suite("stale pull downloads")
struct ImagePullLeaseTests {
    @Test("a download whose lease is held stays; one whose lease is free, missing or a stray lease temp goes")
    func clearsOnlyDeadPulls() throws {
        try withTempTree { root in
            let store = ImageStore(root: root)
            let live = try store.startPull()
            let dead = try store.startPull()
            try put(dead.directory + "/blobs/sha256/partial", "half a blob")
            dead.lease.release()  // what the kernel does when a pull is killed: the lease is free
            try put(dead.directory + ".lease", "")  // the file may even remain, unlocked
            let orphan = try Files.makeTemporaryDirectory(in: store.pullsDirectory, prefix: "pull-")  // killed before its lease
            try put(store.pullsDirectory + "/pull-x.lease.new-1-2", "")  // killed inside FileLease.acquire
            try store.clearStalePulls()
            let left = try Files.listDirectory(store.pullsDirectory).sorted()
            let liveName = String(live.directory.split(separator: "/").last ?? "")
            #expect(left == [liveName, liveName + ".lease"], "\(left)")
            #expect(!Files.exists(orphan) && !Files.exists(dead.directory))
            live.lease.release()
            try store.clearStalePulls()
            #expect(try Files.listDirectory(store.pullsDirectory) == [])
        }
    }
}
