import CrpodDrivers
import CrpodLinux
import Testing

/// Whole-pod checkpoint and restore of a pod on the real `crpod` CNI network: the address, MAC
/// and published port come back, established connections continue, and a restore that would
/// change the address refuses --tcp-established. Part of the (serialized) CNI suite: its
/// tests compare the host's bridge ports, leases and rules before and after.
extension PodNetworkTests {
    @Test("whole-pod restore: the pod gets its address, MAC and published port back; --tcp-established with --ignore-static-ip is refused, leaving nothing")
    func addressComesBack() async throws {
        try await withCrpod { crpod in
            let cni = Self.cni
            let hostPort = 20000 + Int.random(in: 0..<20000)
            try await crpod.ok(["pod", "create"] + cni + ["--publish", "\(hostPort):8080", "web"])
            let before = try await crpod.json(PodNetworkJSON.self, ["pod", "inspect", "web"])
            let address = try #require(before.address)
            let serve = "mkdir -p /www && echo served-by-web > /www/index.html && exec httpd -f -p 8080 -h /www"
            try await crpod.ok(["run", "--name", "httpd", "--pod", "web", "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c", serve])
            try await crpod.ok(["run", "--name", "pair", "--pod", "web", "--rootfs", PrivilegedHost.rootfs, "--"] + tcpPairCommand)
            #expect(try await eventually { try await httpGet("http://\(address):8080/") == "served-by-web\n" })
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "pair"])) ?? 0 >= 3 })

            let archive = crpod.base + "/web.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--tcp-established", "--export", archive, "web"])
            let inspected = try await crpod.ok(["archive", "inspect", archive])
            #expect(inspected.contains("Network:      crpod \(address)/24") && inspected.contains("\(hostPort):8080/tcp"), "\(inspected)")
            let last = try #require(lastCount(try await crpod.ok(["logs", "pair"])))
            try await crpod.ok(["pod", "rm", "-f", "web"])

            try await crpod.expectRefusal(["pod", "restore"] + cni + ["--tcp-established", "--ignore-static-ip", "--import", archive],
                                          "--tcp-established needs the pod's address (\(address)/24)", archive: archive)
            try await crpod.ok(["pod", "restore"] + cni + ["--tcp-established", "--import", archive])
            let after = try await crpod.json(PodNetworkJSON.self, ["pod", "inspect", "web"])
            #expect(after.address == address, "the same address")
            #expect(after.interfaces?.first?.mac != nil && after.interfaces?.first?.mac == before.interfaces?.first?.mac,
                    "the same MAC (bridge's mac capability), so the host's neighbour entry stays right")
            #expect(after.publishedPorts?.map(\.hostPort) == [hostPort])
            #expect(try await eventually { try await httpGet("http://\(address):8080/") == "served-by-web\n" }, "the restored httpd serves at the address")
            #expect(try await eventually { try await httpGet("http://127.0.0.1:\(hostPort)/") == "served-by-web\n" }, "and through the published port")
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "pair"])) ?? 0) > last + 3 }, "the connection continues")
        }
    }

}
