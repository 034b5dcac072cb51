import Foundation
import CrpodLinux
import Testing

/// Archives holding established TCP connections (issue #13): the CLI refuses them without
/// --tcp-established before creating anything; the daemon's spool restores them with it when
/// the address can be kept, and fails them with the planner's reason when it cannot. In the
/// (serialized) CNI suite: a host client's connection to the pod address is what continues.
extension PodNetworkTests {
    @Test("a pod checkpointed with --tcp-established: the CLI without the flag refuses, leaving nothing; the spool restores it with its address and the host client's connection continues; a member's archive spooled into a pod with another address fails with the reason")
    func spoolRestoresEstablishedConnections() async throws {
        try await withCrpod { crpod in
            let before = try await CNIHostView.current()
            let (address, client) = try await Self.podWithHostClient(crpod, pod: "talk")

            let archive = crpod.base + "/talk.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--tcp-established", "--export", archive, "talk"])
            try await crpod.ok(["pod", "rm", "-f", "talk"])
            try await crpod.expectRefusal(["pod", "restore"] + Self.cni + ["--import", archive],
                                          "the archive holds 1 established TCP connection(s) (members replier (1); checkpointed with --tcp-established): restore with --tcp-established, which needs the same IP address (the pod had \(address)/24)",
                                          archive: archive)

            let spool = crpod.base + "/spool"
            try Files.makeDirectories(spool, mode: 0o700)
            let daemon = try await DaemonProcess(crpod, arguments: ["--watch", spool] + Self.cni)
            try Files.writeAtomically(spool + "/talk.tar.zst", try Files.read(archive))
            #expect(try await eventually(seconds: 30) { Files.exists(spool + "/done/talk.tar.zst.result.json") },
                    "failed: \((try? Files.readText(spool + "/failed/talk.tar.zst.result.json")) ?? "-")")
            let pod = try #require(try await daemon.json([PodJSON].self, "GET", "/v1/pods").first?.name)
            #expect(try await crpod.json(PodNetworkJSON.self, ["pod", "inspect", pod]).address == address, "the spooled pod keeps its address")
            #expect(try await client.exchange("two") == "reply 2 two", "the host client's socket carries on with the restored shell")

            // One member on its own, into a pod whose address differs: refused by the planner.
            try await crpod.ok(["pod", "create"] + Self.cni + ["far"])
            let single = crpod.base + "/replier.tar.zst"
            try await crpod.ok(["checkpoint", "--tcp-established", "--export", single, "replier"])
            try Files.writeAtomically(spool + "/single.tar.zst.target", Array("far\n".utf8))
            try Files.writeAtomically(spool + "/single.tar.zst", try Files.read(single))
            #expect(try await eventually(seconds: 30) { Files.exists(spool + "/failed/single.tar.zst.result.json") })
            let reason = "were made from \(address), which pod far does not have"
            #expect(try Files.readText(spool + "/failed/single.tar.zst.result.json").contains(reason))
            #expect(try await eventually(seconds: 5) { try daemon.logLines().contains { $0.contains("single.tar.zst") && $0.contains(reason) } }, "the daemon's log line says why")
            #expect(await daemon.stop() == 0)
            client.close()

            try await crpod.ok(["rm", "-f", "replier"])
            try await crpod.ok(["pod", "rm", "-f", pod])
            try await crpod.ok(["pod", "rm", "-f", "far"])
            #expect(try await CNIHostView.difference(settlingTo: before) == nil, "no veth, lease or iptables rule left")
            #expect(try await crpod.leftovers() == [])
        }
    }
}
