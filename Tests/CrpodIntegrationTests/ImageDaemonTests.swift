import Foundation
import CrpodLinux
import Testing

/// The daemon's default policy (no allow_rootfs) allows images of the store: an API run by
/// image and an API restore of an archive that names its image work without configuring any
/// directory, while a host directory is still refused.
@Suite("the daemon and the image store", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct ImageDaemonTests {
    @Test("with no allow_rootfs: API run --image and API restore of an image-based archive work; a host directory is refused")
    func storeImagesNeedNoConfig() async throws {
        try await withCrpod { crpod in
            try await crpod.importBusybox(as: "localhost/busybox:daemon")
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--image", "localhost/busybox:daemon", "--"] + busyCounter)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })
            let archive = crpod.base + "/c.tar.zst"
            try await crpod.ok(["checkpoint", "--export", archive, "c"])

            try crpod.writeConfigWithoutRootfsAllowList()
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(crpod.base)"])
            let body = #"{"name":"api","pod":"pa","image":"localhost/busybox:daemon","command":["sleep","1000"]}"#
            let started = try await daemon.json(ContainerJSON.self, "POST", "/v1/containers", body: body, status: 201)
            #expect(started.state == "running")
            let host = try await daemon.json(ErrorJSON.self, "POST", "/v1/containers", body: #"{"name":"host","rootfs":"/","command":["true"]}"#, status: 422)
            #expect(host.error.contains("no allow_rootfs directories are configured"), "\(host.error)")

            let restored = try await daemon.json(RestoreJSON.self, "POST", "/v1/restore", body: #"{"importPath":"\#(archive)","pod":"pb","name":"moved"}"#)
            #expect(restored.podName == "pb" && restored.name == "moved")
            #expect(try await eventually { (lastCount(String(decoding: try await daemon.request("GET", "/v1/containers/moved/logs").body, as: UTF8.self)) ?? 0) > 3 })
            #expect(await daemon.stop() == 0)
        }
    }
}
