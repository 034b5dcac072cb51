import CrpodLinux
import Testing

/// Containers holding sockets, checkpointed in pod A and restored into pod B with real runc and
/// CRIU. Until these tests, nothing held a socket: CRIU 4.1.1 cannot dump any inet socket on
/// Linux >= 6.16, and nothing noticed.
@Suite("sockets survive checkpoint and restore into another pod", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct SocketTests {
    @Test("a busybox httpd checkpointed in pod A answers HTTP in pod B's network namespace")
    func listeningServerAnswersInTheOtherPod() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let serve = "mkdir -p /www && echo served-from-pod-a > /www/index.html && exec httpd -f -p 80 -h /www"
            try await crpod.ok(["run", "--name", "web", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c", serve])
            let podA = try await crpod.infraPid(ofPod: "pa")
            #expect(try await eventually { try await crpod.httpGet(inNetworkOf: podA) == "served-from-pod-a" })

            let archive = crpod.base + "/web.tar.zst"
            try await crpod.ok(["checkpoint", "--export", archive, "web"])
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "web2"])

            let podB = try await crpod.infraPid(ofPod: "pb")
            #expect(try await crpod.httpGet(inNetworkOf: podB) == "served-from-pod-a", "the restored httpd answers in pod B")
            #expect(try await crpod.httpGet(inNetworkOf: podA) == nil, "nothing listens in pod A any more")
        }
    }

    @Test("an established loopback TCP pair continues without a gap after --tcp-established (and restore asks for it)")
    func establishedConnectionContinues() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            try await crpod.ok(["run", "--name", "pair", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + tcpPairCommand)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "pair"])) ?? 0 >= 3 })

            let archive = crpod.base + "/pair.tar.zst"
            try await crpod.ok(["checkpoint", "--tcp-established", "--export", archive, "pair"])
            let last = try #require(lastCount(try await crpod.ok(["logs", "pair"])))
            try await crpod.expectRefusal(["restore", "--import", archive, "--pod", "pb", "--name", "pair2"],
                                          "restore with --tcp-established, which needs the same IP address", archive: archive)
            try await crpod.ok(["restore", "--tcp-established", "--import", archive, "--pod", "pb", "--name", "pair2"])

            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "pair2"])) ?? 0) > last + 3 })
            let received = try await crpod.ok(["logs", "pair2"]).split(separator: "\n").compactMap { Int($0.dropFirst(6)) }
            #expect(received.first == last + 1, "the server's next line after \(last) came through the restored connection")
            #expect(received == Array(received.indices.map { (last + 1) + $0 }), "no gap and no repeat: \(received.prefix(10))")
        }
    }

    @Test("a UDP socket and a unix socket pair keep working after a restore into another pod")
    func udpAndUnixSocketsSurvive() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let rootfs = try await crpod.rootfsWithProgram("sock-hold", source: sockHoldSource)
            try await crpod.ok(["run", "--name", "dgram", "--pod", "pa", "--rootfs", rootfs, "--", "/bin/sock-hold"])
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "dgram"])) ?? 0 >= 3 })

            let archive = crpod.base + "/dgram.tar.zst"
            try await crpod.ok(["checkpoint", "--export", archive, "dgram"])
            let last = try #require(lastCount(try await crpod.ok(["logs", "dgram"])))
            try await crpod.ok(["restore", "--import", archive, "--pod", "pb", "--name", "dgram2"])

            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "dgram2"])) ?? 0) > last + 3 })
            let log = try await crpod.ok(["logs", "dgram2"])
            #expect(!log.contains("error"), "every round trip over both sockets worked: \(log.suffix(300))")
            #expect(log.split(separator: "\n").first.flatMap { Int($0.dropFirst(6)) } == last + 1)
        }
    }

    @Test("checkpointing an established TCP connection without --tcp-established says so and changes nothing")
    func establishedConnectionNeedsTheFlag() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "pair", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + tcpPairCommand)
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "pair"])) ?? 0 >= 3 })
            let archive = crpod.base + "/pair.tar.zst"

            try await crpod.expectRefusal(["checkpoint", "--export", archive, "pair"], "checkpoint it with --tcp-established", archive: nil)
            let outcome = try await crpod.run(["checkpoint", "pair"])
            #expect(outcome.stderr.contains("Connected TCP socket"), "CRIU's own reason is quoted: \(outcome.stderr)")
            #expect(!Files.exists(archive), "no archive written")
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "pair"]).state == "running")
            let before = try #require(lastCount(try await crpod.ok(["logs", "pair"])))
            #expect(try await eventually { (lastCount(try await crpod.ok(["logs", "pair"])) ?? 0) > before + 3 }, "it keeps running")
        }
    }
}

/// A busybox nc server logging what a client loop sends it over loopback TCP ("count N" lines).
/// (The server's stdin is a pipe that never ends: at EOF on stdin busybox nc closes the connection.)
let tcpPairCommand = ["sh", "-c", "sleep 2147483647 | nc -l -p 7000 & sleep 0.5; i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done | nc 127.0.0.1 7000"]

extension CrpodInstance {
    /// The host network namespace's iptables and ip6tables rules (without comments and counters),
    /// except the CNI plugins' (`CNI-` chains and jumps): pod networks of tests running alongside
    /// (PodNetworkTests, which checks its own) come and go meanwhile.
    func hostFirewallRules() async throws -> [String] {
        var rules: [String] = []
        for tool in ["/usr/sbin/iptables-save", "/usr/sbin/ip6tables-save"] {
            let result = try await runner.run(tool, [])
            rules += result.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix(":") && !$0.contains("CNI-") }
                .map(String.init)
        }
        return rules
    }

    /// `curl http://127.0.0.1/` in the network namespace of `pid`; nil when it fails. (The host's
    /// static busybox wget crashes when run on the host, so curl, which provisioning installs.)
    func httpGet(inNetworkOf pid: Int32) async throws -> String? {
        let result = try await runner.run("/usr/bin/nsenter", ["--net=/proc/\(pid)/ns/net", "/usr/bin/curl", "-s", "--max-time", "3", "http://127.0.0.1/"])
        return result.succeeded ? String(result.stdout.filter { $0 != "\n" }) : nil
    }
}

/// Every 100 ms sends the next count through a unix socket pair and a connected UDP socket
/// pair on 127.0.0.1, reads both back and prints `count N`, or `error ...` when a trip fails.
let sockHoldSource = """
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int trip(int to, int from, const char *text) {
    char back[64] = {0};
    if (send(to, text, strlen(text), 0) < 0) return -1;
    if (recv(from, back, sizeof(back) - 1, 0) < 0) return -1;
    return strcmp(back, text) == 0 ? 0 : -1;
}
int main(void) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) < 0) { perror("error socketpair"); return 1; }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(7002) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int server = socket(AF_INET, SOCK_DGRAM, 0), client = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(server, (struct sockaddr *)&addr, sizeof(addr)) < 0) { perror("error bind"); return 1; }
    if (connect(client, (struct sockaddr *)&addr, sizeof(addr)) < 0) { perror("error connect"); return 1; }
    for (long i = 0;; i++) {
        char text[32];
        snprintf(text, sizeof(text), "%ld", i);
        if (trip(pair[0], pair[1], text) < 0) { printf("error unix round trip %ld\\n", i); fflush(stdout); }
        if (trip(client, server, text) < 0) { printf("error udp round trip %ld\\n", i); fflush(stdout); }
        printf("count %ld\\n", i);
        fflush(stdout);
        usleep(100000);
    }
}
"""

@Suite("crpod check proves CRIU can dump sockets", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct CheckSocketsTests {
    struct Fact: Decodable {
        var name: String
        var ok: Bool
        var detail: String
        var fix: String?
    }

    @Test("with the provisioned CRIU the socket probe passes and leaves nothing behind")
    func provisionedCRIUDumpsSockets() async throws {
        try await withCrpod { crpod in
            let rulesBefore = try await crpod.hostFirewallRules()
            let facts = try await crpod.json([Fact].self, ["check"])
            let sockets = try #require(facts.first { $0.name == "criu sockets" })
            #expect(sockets.ok, "\(sockets.detail)")
            #expect(try await crpod.hostFirewallRules() == rulesBefore, "CRIU's network lock stayed in the probe's own netns")
            #expect(((try? Files.listDirectory(crpod.runRoot + "/probes")) ?? []).isEmpty, "no image directory left")
            #expect(Processes.pids(withArgument: PrivilegedHost.binaryDirectory + "/crpod-sockprobe").isEmpty, "no probe process left")
        }
    }

    @Test("a CRIU that fails like 4.1.1 on Linux >= 6.16 fails crpod check with its log line and the fix")
    func criuWithoutSocketSupportFailsTheCheck() async throws {
        try await withCrpod { crpod in
            let criu = crpod.base + "/criu-411"
            let script = """
                #!/bin/bash
                case "$1" in
                  --version) echo "Version: 4.1.1"; exit 0 ;;
                  check) echo "Looks good."; exit 0 ;;
                  dump) while [ $# -gt 0 ]; do [ "$1" = --images-dir ] && IMAGES="$2"; shift; done
                        echo "(00.03) Error (criu/sockets.c:628): sockets: Can't get 1:16 opt: Operation not supported" > "$IMAGES/dump.log"
                        exit 1 ;;
                esac
                exec criu "$@"

                """
            try Files.writeAtomically(criu, Array(script.utf8), mode: 0o755)
            let outcome = try await crpod.run(["check", "--criu", criu])
            #expect(outcome.status == .exited(1))
            #expect(outcome.stdout.contains("Can't get 1:16 opt: Operation not supported"), "\(outcome.stdout)")
            #expect(outcome.stdout.contains("run contrib/provision.sh, or point --criu at a CRIU >= 4.2 for kernels >= 6.16"))
            #expect(((try? Files.listDirectory(crpod.runRoot + "/probes")) ?? []).isEmpty, "no image directory left")
        }
    }
}
