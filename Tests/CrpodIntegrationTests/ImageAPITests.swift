import Foundation
import CrpodLinux
import Testing

struct ImageRecordJSON: Decodable {
    var id: String
    var names: [String]
    /// The ID as the CLI prints it (without `sha256:`).
    var hex: String { String(id.dropFirst("sha256:".count)) }
}

struct ImageDetailsJSON: Decodable {
    var image: ImageRecordJSON
    var rootfs: String?
    var checkpointOf: String?
}

struct ImageCheckpointJSON: Decodable {
    var checkpoint: Outcome
    var image: ImageRecordJSON
    struct Outcome: Decodable { var id: String; var name: String }
}

/// The image store through the daemon: the API endpoints and the CLI's --remote.
@Suite("the image API", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct ImageAPITests {
    @Test("import a tar under api_dir, list, inspect, run by image, rm refused while used (409), checkpoint into a checkpoint image, restore it into another pod; typed errors")
    func storeThroughTheAPI() async throws {
        try await withCrpod { crpod in
            let fixtures = ImageFixtures(directory: crpod.base)
            let layer = try await fixtures.layer(of: PrivilegedHost.rootfs, named: "busybox", gzip: true)
            try fixtures.ociLayout(crpod.base + "/oci", layers: [layer], reference: "localhost/busybox:api")
            let tar = crpod.base + "/oci.tar"
            let packed = try await crpod.runner.run("/bin/tar", ["-C", crpod.base + "/oci", "-cf", tar, "."])
            try #require(packed.status == .exited(0), "\(packed.stderr)")
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            try crpod.writeConfigWithoutRootfsAllowList()
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(crpod.base)"])

            let outside = try await daemon.json(ErrorJSON.self, "POST", "/v1/images/import", body: #"{"path":"/etc/passwd"}"#, status: 403)
            #expect(outside.code == "path_not_allowed", "\(outside)")
            let imported = try await daemon.json(ImageRecordJSON.self, "POST", "/v1/images/import", body: #"{"path":"\#(tar)","name":"localhost/busybox:api"}"#)
            #expect(imported.names == ["localhost/busybox:api"])
            let listed = try await daemon.json([ImageRecordJSON].self, "GET", "/v1/images")
            #expect(listed.map(\.id) == [imported.id])
            #expect(try await crpod.ok(["image", "ls", "-q", "--remote", daemon.socket]) == imported.hex, "the CLI lists through the daemon")
            let details = try await daemon.json(ImageDetailsJSON.self, "GET", "/v1/images/localhost/busybox:api")
            #expect(details.image.id == imported.id && details.rootfs.map(Files.isDirectory) == true && details.checkpointOf == nil)
            let missing = try await daemon.json(ErrorJSON.self, "DELETE", "/v1/images/localhost/nothing:1", status: 404)
            #expect(missing.code == "image_not_found")

            try await daemon.json(ContainerJSON.self, "POST", "/v1/containers", body: #"{"name":"c","pod":"pa","image":"localhost/busybox:api","command":\#(busyCounterJSON)}"#, status: 201)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            let inUse = try await daemon.json(ErrorJSON.self, "DELETE", "/v1/images/\(imported.id)", status: 409)
            #expect(inUse.code == "image_in_use", "\(inUse)")
            let refused = try await daemon.json(ErrorJSON.self, "POST", "/v1/containers/c/checkpoint", body: #"{"createImage":"localhost/ckpt:1","export":"\#(crpod.base)/x.tar"}"#, status: 400)
            #expect(refused.code == "invalid_input")

            let made = try await daemon.json(ImageCheckpointJSON.self, "POST", "/v1/containers/c/checkpoint", body: #"{"createImage":"localhost/ckpt:1"}"#)
            #expect(made.checkpoint.name == "c")
            let checkpointed = try #require(lastCount(try await crpod.ok(["logs", "c"])))
            let shown = try await daemon.json(ImageDetailsJSON.self, "GET", "/v1/images/localhost/ckpt:1")
            #expect(shown.image.id == made.image.id && shown.checkpointOf == "c" && shown.rootfs == nil)
            let both = try await daemon.json(ErrorJSON.self, "POST", "/v1/restore", body: #"{"image":"localhost/ckpt:1","importPath":"\#(tar)"}"#, status: 400)
            #expect(both.code == "invalid_input")
            let restored = try await daemon.json(RestoreJSON.self, "POST", "/v1/restore", body: #"{"image":"localhost/ckpt:1","pod":"pb","name":"moved"}"#)
            #expect(restored.podName == "pb" && restored.name == "moved")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "moved"])) ?? 0) > checkpointed }, "the counter continues in pb")

            #expect(try await crpod.ok(["image", "rm", "--remote", daemon.socket, "localhost/ckpt:1"]) == made.image.hex)
            #expect(try await daemon.json([ImageRecordJSON].self, "GET", "/v1/images").map(\.id) == [imported.id])
            #expect(await daemon.stop() == 0)
        }
    }

    @Test("pull through the daemon: image pull --remote, and POST /v1/images/pull?async=true as a job; a missing tag fails with registry_failed; allow_registry limits the registries")
    func pullThroughTheAPI() async throws {
        try await withCrpod { crpod in
            let registry = try RegistryProcess(crpod)
            defer { registry.stop() }
            #expect(try await registry.waitListening())
            let id = try await crpod.importBusybox(as: "localhost/busybox:pull").id
            let remote = "\(registry.host)/test/busybox:pull"
            try await crpod.ok(["image", "push", "--tls-verify=false", id, remote])
            try await crpod.ok(["image", "rm", id])
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(crpod.base)"])
            let push = try await crpod.run(["image", "push", "--remote", daemon.socket, "--tls-verify=false", id, remote])
            #expect(!push.ok && push.stderr.contains("local store"), "push stays local: \(push.stderr)")

            #expect(try await crpod.ok(["image", "pull", "--remote", daemon.socket, "--tls-verify=false", remote]) == id)
            try await crpod.ok(["image", "rm", "--remote", daemon.socket, id])
            let job = try await daemon.json(JobJSON.self, "POST", "/v1/images/pull?async=true", body: #"{"reference":"\#(remote)","tlsVerify":false}"#, status: 202)
            var finished = job
            #expect(try await eventually(seconds: 60) {
                finished = try await daemon.json(JobJSON.self, "GET", "/v1/jobs/\(job.id)")
                return finished.state == "succeeded" || finished.state == "failed"
            })
            let pulled = try JSONDecoder().decode(ImageRecordJSON.self, from: Data((finished.result ?? "").utf8))
            #expect(finished.state == "succeeded" && pulled.hex == id, "\(finished)")
            let missing = try await daemon.json(ErrorJSON.self, "POST", "/v1/images/pull", body: #"{"reference":"\#(registry.host)/test/nothing:1","tlsVerify":false}"#, status: 400)
            #expect(missing.code == "registry_failed" && missing.error.contains("HTTP 404"), "\(missing)")
            #expect(try Files.listDirectory(crpod.imageStore + "/pulls") == [])

            // allow_registry (applied on SIGHUP): only the registries listed are contacted.
            let config = try Files.readText(crpod.base + "/crpod.conf")
            try Files.writeAtomically(crpod.base + "/crpod.conf", Array((config + "allow_registry = 127.0.0.1:1\n").utf8))
            kill(daemon.pid, SIGHUP)
            let pullBody = #"{"reference":"\#(remote)"}"#
            var refused = try await daemon.request("POST", "/v1/images/pull", body: Array(pullBody.utf8))
            #expect(try await eventually {
                refused = try await daemon.request("POST", "/v1/images/pull", body: Array(pullBody.utf8))
                return refused.status == 403
            }, "after the reload a pull from \(registry.host) is refused: \(refused.status) \(refused.text)")
            #expect(refused.text.contains("registry_not_allowed") && refused.text.contains("allow_registry"), "\(refused.text)")
            let restoreBody = #"{"image":"\#(registry.host)/ckpt/none:1","pod":"nopod"}"#
            let restore = try await daemon.request("POST", "/v1/restore", body: Array(restoreBody.utf8))
            #expect(restore.status == 403 && restore.text.contains("registry_not_allowed"), "restore --image that would pull: \(restore.text)")
            #expect(try Files.listDirectory(crpod.imageStore + "/pulls") == [])
            #expect(await daemon.stop() == 0)
        }
    }
}

/// `busyCounter` as a JSON array (its words hold no quote or backslash).
let busyCounterJSON = "[" + busyCounter.map { "\"\($0)\"" }.joined(separator: ",") + "]"
