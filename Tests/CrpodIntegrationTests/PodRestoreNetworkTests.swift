#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodCore
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
            let hostPort = TestPorts.unused()
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


    @Test("a host client's established TCP connection to a pod survives pod checkpoint, pod rm and pod restore with --tcp-established: same socket, no reset, the server's state continues")
    func hostConnectionSurvives() async throws {
        try await withCrpod { crpod in
            let before = try await CNIHostView.current()
            let (address, client) = try await Self.podWithHostClient(crpod, pod: "talk")
            #expect(try await client.exchange("two") == "reply 2 two")

            let archive = crpod.base + "/talk.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--tcp-established", "--export", archive, "talk"])
            let inspected = try await crpod.json(PodNetworkJSON.self, ["pod", "inspect", "talk"])
            let status = try await ToolRunner().run("/usr/bin/tar", ["-xOf", archive, CheckpointMember.networkStatus])
            let eth0 = try NetworkStatus(data: Data(status.stdout.utf8)).networks["crpod"]?.interfaces["eth0"]
            #expect(eth0?.subnets == [.init(ipnet: address + "/24", gateway: "10.90.0.1")] && eth0?.macAddress == inspected.interfaces?.first?.mac,
                    "the archive's network.status in podman's shape: \(status.stdout)")
            try await crpod.ok(["pod", "rm", "-f", "talk"])
            // The gap: the pod's address is gone. The client sends nothing, so nothing reaches
            // the host that could reset it; the server's socket was closed in repair mode (silently).
            #expect(client.state == .established, "the host socket is still established with the pod gone")
            #expect(try client.pendingLine() == nil, "and has received neither data, EOF nor a reset")

            try await crpod.ok(["pod", "restore"] + Self.cni + ["--tcp-established", "--import", archive])
            #expect(try await crpod.json(PodNetworkJSON.self, ["pod", "inspect", "talk"]).address == address)
            #expect(try await client.exchange("three") == "reply 3 three", "the same socket carries on with the restored shell's count")
            #expect(client.state == .established)
            client.close()

            try await crpod.ok(["pod", "rm", "-f", "talk"])
            #expect(try await CNIHostView.difference(settlingTo: before) == nil, "no veth, lease or iptables rule left")
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("a line the host client sends while the pod is gone (checkpointed, removed) is retransmitted by the host's TCP into the restored pod and answered in order")
    func dataSentDuringTheGapArrives() async throws {
        try await withCrpod { crpod in
            let (_, client) = try await Self.podWithHostClient(crpod, pod: "gap")
            let archive = crpod.base + "/gap.tar.zst"
            try await crpod.ok(["pod", "checkpoint", "--tcp-established", "--export", archive, "gap"])
            try await crpod.ok(["pod", "rm", "-f", "gap"])
            try client.sendLine("while-gone")
            try await Task.sleep(for: .seconds(1))
            #expect(client.state == .established, "unacknowledged, retransmitting, not reset: nothing answers for the pod's address")
            #expect(try client.pendingLine() == nil)

            try await crpod.ok(["pod", "restore"] + Self.cni + ["--tcp-established", "--import", archive])
            // The host retransmits with exponential backoff: the next try after the restore lands.
            #expect(try await client.awaitLine(seconds: 40) == "reply 2 while-gone", "the restored shell got the retransmitted line")
            #expect(try await client.exchange("after") == "reply 3 after")
            client.close()
            try await crpod.ok(["pod", "rm", "-f", "gap"])
            #expect(try await crpod.leftovers() == [])
        }
    }
}

extension PodNetworkTests {
    /// Pod `pod` on the crpod CNI network with member `replier` (one connection, one shell: each
    /// line the client sends is answered "reply N line"), and a host client connected to it
    /// that has had "one" answered.
    static func podWithHostClient(_ crpod: CrpodInstance, pod: String) async throws -> (address: String, client: HostTCPClient) {
        try await crpod.ok(["pod", "create"] + cni + [pod])
        let address = try #require(try await crpod.json(PodNetworkJSON.self, ["pod", "inspect", pod]).address)
        let reply = #"n=0; while read line; do n=$((n+1)); echo reply $n $line; done"#
        try await crpod.ok(["run", "--name", "replier", "--pod", pod, "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c",
                            "printf '%s\\n' '\(reply)' > /tmp/reply.sh && exec nc -l -p 7001 -e sh /tmp/reply.sh"])
        var connected: HostTCPClient?
        #expect(try await eventually { connected = try await HostTCPClient.connect(address, 7001); return connected != nil })
        let client = try #require(connected)
        #expect(try await client.exchange("one") == "reply 1 one")
        return (address, client)
    }
}

/// A TCP client in the test process (the host's network namespace): a non-blocking socket
/// polled with `Task.sleep`, so no cooperative thread blocks.
final class HostTCPClient {
    enum State: Equatable { case established, other(UInt8) }
    struct Failure: Error, CustomStringConvertible { let description: String }
    private var fd: Int32
    private var buffered: [UInt8] = []

    private init(fd: Int32) { self.fd = fd }
    deinit { close() }

    /// Connected within `seconds`, or nil (refused, unreachable, timed out).
    static func connect(_ address: String, _ port: UInt16, seconds: Double = 3) async throws -> HostTCPClient? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        let client = HostTCPClient(fd: fd)
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &target.sin_addr) == 1 else { throw Failure(description: "bad address \(address)") }
        let started = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard started == 0 || errno == EINPROGRESS else { return nil }
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if client.state == .established { return client }
            if client.socketError != 0 { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// The kernel's TCP state of the socket (TCP_INFO).
    var state: State {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return .other(0) }
        return info.tcpi_state == 1 ? .established : .other(info.tcpi_state)  // 1: TCP_ESTABLISHED
    }

    private var socketError: Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 ? value : errno
    }

    /// Sends `line` and waits up to `seconds` for the answering line.
    func exchange(_ line: String, seconds: Double = 10) async throws -> String? {
        try sendLine(line)
        return try await awaitLine(seconds: seconds)
    }

    /// Queues `line` (and a newline) on the socket.
    func sendLine(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw Failure(description: "send: errno \(errno)") }
    }

    /// The next line received within `seconds`, or nil.
    func awaitLine(seconds: Double) async throws -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let answer = try pendingLine() { return answer }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// A complete line already received, or nil; throws at EOF or on a socket error (a reset).
    func pendingLine() throws -> String? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
        if count == 0 { throw Failure(description: "EOF: the peer closed the connection") }
        if count < 0 && errno != EAGAIN { throw Failure(description: "recv: errno \(errno)") }
        if count > 0 { buffered += chunk[..<count] }
        guard let newline = buffered.firstIndex(of: 10) else { return nil }
        let line = String(decoding: buffered[..<newline], as: UTF8.self)
        buffered.removeFirst(newline + 1)
        return line
    }

    func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}
