import CrpodLinux
import Testing

/// `POST /v1/pods/REF/checkpoint` and `POST /v1/pods/restore`, and the CLI through the daemon.
@Suite("daemon API: whole-pod checkpoint and restore", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct DaemonPodCheckpointTests {
    struct PodCheckpointJSON: Decodable {
        struct Member: Decodable { var name: String }
        var podName: String
        var archive: String
        var members: [Member]
    }

    struct PodRestoreJSON: Decodable {
        struct Member: Decodable { var name: String; var podName: String? }
        var podName: String
        var members: [Member]
    }

    @Test("the pod moves through the API (checkpoint, restore) and the CLI's --remote; a refusal is an API error")
    func podRoundTrip() async throws {
        try await withCrpod { crpod in
            let archives = crpod.base + "/archives"
            try Files.makeDirectories(archives, mode: 0o700)
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(archives)"])
            try await crpod.startTCPAndShmPod("pa")
            let archive = archives + "/pa.tar.zst"
            let checkpoint = try await daemon.json(PodCheckpointJSON.self, "POST", "/v1/pods/pa/checkpoint",
                                             body: #"{"export":"\#(archive)","tcpEstablished":true}"#)
            #expect(checkpoint.podName == "pa" && checkpoint.archive == archive && Files.exists(archive))
            #expect(checkpoint.members.map(\.name) == ["srv", "cli", "shm"])
            let last = try #require(lastCount(try await crpod.ok(["logs", "srv"])))
            try await crpod.ok(["pod", "rm", "-f", "pa"])

            let restored = try await daemon.json(PodRestoreJSON.self, "POST", "/v1/pods/restore", body: #"{"importPath":"\#(archive)","tcpEstablished":true}"#)
            #expect(restored.podName == "pa" && restored.members.map(\.name) == ["srv", "cli", "shm"])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "srv"])) ?? 0) > last + 3 }, "the pair continues")

            let again = try await daemon.request("POST", "/v1/pods/restore", body: Array(#"{"importPath":"\#(archive)","tcpEstablished":true}"#.utf8))
            #expect(again.status >= 400 && again.text.contains("a pod named \\\"pa\\\" exists"), "\(again.status) \(again.text)")

            let second = archives + "/pa2.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "-R", "--tcp-established", "--export", second, "pa", "--remote", daemon.socket])
            #expect(try await crpod.json(PodArchiveJSON.self, ["archive", "inspect", second]).valid)
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "srv"])) ?? 0) > last + 6 }, "-R: the pod carries on")
        }
    }
}

extension DaemonPodCheckpointTests {
    @Test("a whole-pod archive dropped into the spool comes back as a new pod with its members")
    func spoolRestoresPodArchives() async throws {
        try await withCrpod { crpod in
            let spool = crpod.base + "/spool"
            try Files.makeDirectories(spool, mode: 0o700)
            let (archive, last) = try await crpod.checkpointedCounterPod("pa")

            let daemon = try await DaemonProcess(crpod, arguments: ["--watch", spool])
            try Files.writeAtomically(spool + "/moved.tar.zst", try Files.read(archive))
            #expect(try await eventually(seconds: 30) { Files.exists(spool + "/done/moved.tar.zst.result.json") })
            let result = try Files.readText(spool + "/done/moved.tar.zst.result.json")
            #expect(result.contains("\"members\" : [\n    \"a\",\n    \"b\"\n  ]") && result.contains("\"pod\" : \"moved-"), "\(result)")
            let pods = try await daemon.json([PodJSON].self, "GET", "/v1/pods")
            #expect(pods.count == 1 && pods.first?.name.hasPrefix("moved-") == true && pods.first?.containers.sorted() == ["a", "b"])
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "b"])) ?? 0) > last + 3 }, "member b counts on")
        }
    }
}

extension DaemonPodCheckpointTests {
    @Test("a .target sidecar beside a whole-pod archive names the pod it becomes; a taken name fails the archive with the reason")
    func spoolSidecarNamesThePod() async throws {
        try await withCrpod { crpod in
            let spool = crpod.base + "/spool"
            try Files.makeDirectories(spool, mode: 0o700)
            let (archive, last) = try await crpod.checkpointedCounterPod("pa")
            try await crpod.ok(["pod", "create", "taken"])

            let daemon = try await DaemonProcess(crpod, arguments: ["--watch", spool])
            try Files.writeAtomically(spool + "/one.tar.zst.target", Array("taken\n".utf8))
            try Files.writeAtomically(spool + "/one.tar.zst", try Files.read(archive))
            #expect(try await eventually(seconds: 30) { Files.exists(spool + "/failed/one.tar.zst.result.json") })
            let failed = (try? Files.readText(spool + "/failed/one.tar.zst.result.json")) ?? ""
            #expect(failed.contains("a pod named \\\"taken\\\" exists"), "\(failed)")
            #expect(try await crpod.ok(["ps", "-a", "-q"]) == "", "nothing restored")

            try Files.writeAtomically(spool + "/two.tar.zst.target", Array("appliance\n".utf8))
            try Files.writeAtomically(spool + "/two.tar.zst", try Files.read(archive))
            #expect(try await eventually(seconds: 30) { Files.exists(spool + "/done/two.tar.zst.result.json") },
                    "failed: \((try? Files.readText(spool + "/failed/two.tar.zst.result.json")) ?? "-")")
            let pods = try await daemon.json([PodJSON].self, "GET", "/v1/pods")
            #expect(pods.first { $0.name == "appliance" }?.containers.sorted() == ["a", "b"], "\(pods.map(\.name))")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "b"])) ?? 0) > last + 3 }, "member b counts on")
        }
    }
}
