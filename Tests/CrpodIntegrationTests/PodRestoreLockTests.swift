#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodDrivers
import CrpodLinux
import Testing

/// The order of a pod restore with TCP connections: the new pod's network namespace must drop
/// packets before CNI gives it the old address, or a peer's retransmission landing between the
/// address and the restored sockets is answered with a reset (seen once in CI). A probe plugin
/// chained after bridge records the namespace's INPUT chain at each ADD.
extension PodNetworkTests {
    static let probeNetwork = "crpodprobe"
    static let probeBridge = "crpodt0"

    @Test("pod restore --tcp-established locks the pod's network before CNI ADD gives it its address (a plain pod create does not); the connection carries on")
    func networkLockedBeforeTheAddressComesUp() async throws {
        try await withCrpod { crpod in
            let (configDirectory, records) = try Self.writeProbeNetwork(crpod)
            await Self.removeProbeBridge()
            let cni = ["--cni-config-dir", configDirectory]
            try await crpod.ok(["pod", "create", "--network", Self.probeNetwork] + cni + ["probed"])
            let created = try Self.probeRecords(records)
            #expect(created.count == 1 && !created[0].contains("-j DROP"), "no lock at a plain create: \(created)")

            let address = try #require(try await crpod.json(PodNetworkJSON.self, ["pod", "inspect", "probed"]).address)
            let reply = #"n=0; while read line; do n=$((n+1)); echo reply $n $line; done"#
            try await crpod.ok(["run", "--name", "replier", "--pod", "probed", "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c",
                                "printf '%s\\n' '\(reply)' > /tmp/reply.sh && exec nc -l -p 7001 -e sh /tmp/reply.sh"])
            var connected: HostTCPClient?
            #expect(try await eventually { connected = try await HostTCPClient.connect(address, 7001); return connected != nil })
            let client = try #require(connected)
            #expect(try await client.exchange("one") == "reply 1 one")

            let archive = crpod.base + "/probed.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--tcp-established", "--export", archive, "probed"])
            try await crpod.ok(["pod", "rm", "-f", "probed"])
            try await crpod.ok(["pod", "restore"] + cni + ["--tcp-established", "--import", archive])
            let restored = try Self.probeRecords(records)
            #expect(restored.count == 2 && restored[1].contains("-A INPUT -j DROP"), "locked when the address came up: \(restored)")
            #expect(try await client.exchange("two") == "reply 2 two", "and unlocked once the members are back")
            client.close()
            try await crpod.ok(["pod", "rm", "-f", "probed"])
            #expect(try await crpod.leftovers() == [])
            await Self.removeProbeBridge()
        }
    }

    /// A conflist `crpodprobe` (bridge `crpodt0`, host-local 10.91.0.0/24, no masquerade) whose
    /// last plugin appends the pod namespace's `iptables -S INPUT` to the returned file at ADD;
    /// the instance's crpod.conf gets the probe's plugin directory before the system one.
    static func writeProbeNetwork(_ crpod: CrpodInstance) throws -> (configDirectory: String, records: String) {
        let configDirectory = crpod.base + "/cni-probe"
        let plugins = crpod.base + "/cni-probe-plugins"
        let records = crpod.base + "/probe-records"
        try Files.makeDirectories(configDirectory)
        try Files.makeDirectories(plugins)
        let conflist = """
            {"cniVersion": "1.0.0", "name": "\(probeNetwork)", "plugins": [
              {"type": "bridge", "bridge": "\(probeBridge)", "isGateway": true, "ipMasq": false, "capabilities": {"ips": true, "mac": true},
               "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.91.0.0/24", "gateway": "10.91.0.1"}]]}},
              {"type": "crpod-lock-probe"}]}
            """
        try Files.writeAtomically(configDirectory + "/\(probeNetwork).conflist", Array(conflist.utf8), mode: 0o644)
        let script = """
            #!/bin/bash
            input=$(cat)
            case "$CNI_COMMAND" in
            ADD) { /usr/bin/nsenter --net="$CNI_NETNS" /usr/sbin/iptables -w -S INPUT | /usr/bin/tr '\\n' ';'; echo; } >> \(records)
                 printf '%s' "$input" | /usr/bin/python3 -c 'import json,sys; c=json.load(sys.stdin); print(json.dumps(c["prevResult"]))' ;;
            VERSION) echo '{"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}' ;;
            esac
            """
        try Files.writeAtomically(plugins + "/crpod-lock-probe", Array(script.utf8), mode: 0o755)
        let config = try Files.readText(crpod.base + "/crpod.conf")
        let directories = "cni_plugin_dir = \(plugins)\n" + CNINetworkConfigList.defaultPluginDirectories.map { "cni_plugin_dir = \($0)\n" }.joined()
        try Files.writeAtomically(crpod.base + "/crpod.conf", Array((config + directories).utf8))
        return (configDirectory, records)
    }

    static func probeRecords(_ file: String) throws -> [String] {
        Files.exists(file) ? try Files.readText(file).split(separator: "\n").map(String.init) : []
    }

    /// bridge makes its bridge and keeps it after the last DEL (one left by an earlier run goes first).
    static func removeProbeBridge() async {
        _ = try? await ToolRunner().run("/usr/sbin/ip", ["link", "del", probeBridge])
    }
}
