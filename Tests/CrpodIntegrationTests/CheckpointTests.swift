#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodLinux
import Testing

struct InspectionJSON: Decodable {
    var engine: String
    var containerName: String?
    var podID: String?
    var sharedNamespaces: [String]
    var valid: Bool
    var members: [Member]
    struct Member: Decodable { var name: String }
}

let busyCounter = ["sh", "-c", "echo changed > /tmp/new-file; rm /bin/vi; i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done"]

func lastCount(_ log: String) -> Int? {
    log.split(separator: "\n").last { $0.hasPrefix("count ") }.flatMap { Int($0.dropFirst(6)) }
}

@Suite("checkpoint with real runc and CRIU", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct CheckpointTests {
    @Test("a counter in a pod checkpoints into a complete, valid archive and stops")
    func exportStopsTheContainer() async throws {
        try await withCrpod { crpod in
            let podID = try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            let archive = crpod.base + "/c.tar.zst"
            try await crpod.ok(["checkpoint", "--export", archive, "c"])

            var info = stat()
            #expect(stat(archive, &info) == 0 && info.st_mode & 0o777 == 0o600, "archive mode 0600")
            #expect(try Files.listDirectory(crpod.base).filter { $0.contains(".part") }.isEmpty, "no temp file left")
            let inspection = try await crpod.json(InspectionJSON.self, ["archive", "inspect", archive])
            #expect(inspection.valid)
            #expect(inspection.engine == "crpod")
            #expect(inspection.containerName == "c")
            #expect(inspection.podID == podID)
            #expect(inspection.sharedNamespaces == ["ipc", "net", "uts"])
            let names = inspection.members.map(\.name)
            for member in ["config.dump", "spec.dump", "checkpoint/inventory.img", "checkpoint/descriptors.json",
                           "rootfs-diff.tar", "deleted.files", "stats-dump", "network.status"] {
                #expect(names.contains(member), "\(member) in the archive")
            }
            #expect(names.last == "crpod-manifest.json", "the manifest comes last")
            #expect(try deletedFiles(archive) == ["/bin/vi"])

            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "exited")
            #expect(try await crpod.leftovers().filter { $0.contains("runc state") }.isEmpty)
        }
    }

    @Test("with -R the container keeps running and counting")
    func leaveRunning() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,pid", "pr"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pr", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 2 })
            let archive = crpod.base + "/r.tar.gz"
            try await crpod.ok(["checkpoint", "-R", "--export", archive, "--compress", "gzip", "c"])
            let before = try #require(lastCount(try await crpod.ok(["logs", "c"])))
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "c"])) ?? 0) > before + 3 })
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c"]).state == "running")
            let inspection = try await crpod.json(InspectionJSON.self, ["archive", "inspect", archive])
            #expect(inspection.valid)
            #expect(inspection.sharedNamespaces == ["ipc", "net", "pid", "uts"])
        }
    }

    @Test("without --export the checkpoint stays with the container, which becomes checkpointed")
    func checkpointInPlace() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["run", "--name", "solo", "--rootfs", PrivilegedHost.rootfs, "--"] + busyCounter)
            let id = try await crpod.ok(["checkpoint", "solo"])
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "solo"]).state == "checkpointed")
            #expect(Files.exists(crpod.root + "/containers/\(id)/checkpoint/inventory.img"))
        }
    }

    @Test("a CRIU failure quotes the CRIU log, leaves the container running and writes no archive")
    func criuFailureKeepsRunning() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pt"])
            // A deleted file still open and larger than CRIU's 1 MiB ghost limit: CRIU refuses to dump it.
            let ghost = "dd if=/dev/zero of=/tmp/big bs=1M count=3 2>/dev/null; exec 3</tmp/big; rm /tmp/big; i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done"
            try await crpod.ok(["run", "--name", "t", "--pod", "pt", "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c", ghost])
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "t"])) ?? 0 >= 5 })
            let archive = crpod.base + "/t.tar.zst"
            let outcome = try await crpod.run(["checkpoint", "--export", archive, "t"])
            #expect(!outcome.ok)
            #expect(outcome.stderr.contains("CRIU log"), "stderr: \(outcome.stderr)")
            #expect(outcome.stderr.contains("ghost file"), "the CRIU error itself is quoted: \(outcome.stderr)")
            #expect(!Files.exists(archive))
            #expect(try Files.listDirectory(crpod.base).filter { $0.contains(".part") }.isEmpty)
            let before = try #require(lastCount(try await crpod.ok(["logs", "t"])))
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "t"])) ?? 0) > before + 3 }, "still counting (thawed)")
        }
    }

    @Test("option and state refusals", arguments: [
        (["checkpoint", "--compress", "gzip", "c"], "--compress can only be used with --export"),
        (["checkpoint", "--ignore-rootfs", "c"], "--ignore-rootfs can only be used with --export"),
        (["checkpoint", "--export", "/tmp/x.tar", "c", "d"], "--export works with exactly one container"),
        (["checkpoint", "stopped"], "container stopped is not running"),
        (["checkpoint", "--export", "/no/such/dir/a.tar.zst", "c"], "/no/such/dir/a.tar.zst"),
    ])
    func refusals(arguments: [String], message: String) async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["run", "--name", "c", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "100"])
            try await crpod.ok(["run", "--name", "stopped", "--rootfs", PrivilegedHost.rootfs, "--", "true"])
            let outcome = try await crpod.run(arguments)
            #expect(!outcome.ok)
            #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
        }
    }
}

/// The JSON list in an archive's deleted.files.
func deletedFiles(_ archive: String) throws -> [String] {
    var content: [UInt8]?
    _ = try ArchiveScanner.scan(path: archive, keepContentOf: { $0 == "deleted.files" }) { member in
        if member.name == "deleted.files" { content = member.content }
    }
    return try JSONDecoder().decode([String].self, from: Data(try #require(content)))
}
