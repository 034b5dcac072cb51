#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

@Suite("daemon API over a Unix socket", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct DaemonAPITests {
    @Test("pods, containers, checkpoint, restore (path, upload, async job), logs, errors and metrics round-trip")
    func roundTrips() async throws {
        try await withCrpod { crpod in
            let archives = crpod.base + "/archives"
            try Files.makeDirectories(archives, mode: 0o700)
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(archives)"])
            let health = try await daemon.json(HealthJSON.self, "GET", "/v1/health")
            #expect(health.status == "ok" && health.pid == daemon.pid)

            _ = try await daemon.json(PodJSON.self, "POST", "/v1/pods", body: #"{"name":"pa","shares":["ipc","net","uts"]}"#, status: 201)
            let pb = try await daemon.json(PodJSON.self, "POST", "/v1/pods", body: #"{"name":"pb","shares":["ipc","net","uts"]}"#, status: 201)
            let run = try JSONEncoder().encode(RunBody(name: "c", pod: "pa", rootfs: PrivilegedHost.rootfs, command: busyCounter))
            let started = try await daemon.json(ContainerJSON.self, "POST", "/v1/containers", body: String(decoding: run, as: UTF8.self), status: 201)
            #expect(started.state == "running")
            #expect(try await eventually { lastCount(try await crpod.ok(["logs", "c"])) ?? 0 >= 3 })

            // The CLI prints the same through the daemon as on its own.
            let local = try await crpod.ok(["ps", "-a", "--format", "json"])
            #expect(try await crpod.ok(["ps", "-a", "--format", "json", "--remote", daemon.socket]) == local)
            #expect(try await crpod.ok(["pod", "ls", "--remote", "unix://" + daemon.socket]) == crpod.ok(["pod", "ls"]))
            let missing = try await crpod.run(["inspect", "nope", "--remote", daemon.socket])
            #expect(!missing.ok && missing.stderr.contains("no container with name or ID \"nope\" found"), "\(missing.stderr)")

            let archive = archives + "/c.tar.zst"
            let outcomes = try await daemon.json([CheckpointJSON].self, "POST", "/v1/checkpoint", body: #"{"containers":["c"],"request":{"export":"\#(archive)"}}"#)
            #expect(outcomes.first?.archive == archive && Files.exists(archive))
            let lastBefore = try #require(lastCount(try await crpod.ok(["logs", "c"])))

            let restored = try await daemon.json(RestoreJSON.self, "POST", "/v1/restore", body: #"{"importPath":"\#(archive)","pod":"pb","name":"c2"}"#)
            #expect(restored.podName == "pb" && restored.name == "c2")
            #expect(try await eventually { (lastCount(String(decoding: try await daemon.request("GET", "/v1/containers/c2/logs").body, as: UTF8.self)) ?? 0) > lastBefore },
                    "the counter continued in pb")

            let upload = try await daemon.request("PUT", "/v1/restore/upload?pod=pb&name=c3", body: try Files.read(archive))
            #expect(upload.status == 200, "upload: \(upload.text)")
            #expect(((try? Files.listDirectory(crpod.root + "/uploads")) ?? []).isEmpty, "the uploaded copy is removed")

            let accepted = try await daemon.json(JobJSON.self, "POST", "/v1/restore?async=true", body: #"{"importPath":"\#(archive)","pod":"pb","name":"c4"}"#, status: 202)
            #expect(try await eventually { try await daemon.json(JobJSON.self, "GET", "/v1/jobs/\(accepted.id)").state == "succeeded" })
            let inPod = try await daemon.json([ContainerJSON].self, "GET", "/v1/containers").filter { $0.pod == pb.id }.map(\.name).sorted()
            #expect(inPod == ["c2", "c3", "c4"])

            // Errors: status, and the engine's own words.
            let notFound = try await daemon.json(ErrorJSON.self, "GET", "/v1/containers/nope", status: 404)
            #expect(notFound.error.contains("no container with name or ID"))
            #expect(try await daemon.request("GET", "/v1/nothing").status == 404)
            #expect(try await daemon.request("PATCH", "/v1/pods").status == 405)
            #expect(try await daemon.request("POST", "/v1/pods", body: Array("{not json".utf8)).status == 400)
            let outside = try await daemon.json(ErrorJSON.self, "POST", "/v1/checkpoint", body: #"{"containers":["c2"],"request":{"export":"/tmp/escape.tar.zst"}}"#, status: 403)
            #expect(outside.error.contains("outside the directories"))
            #expect(!Files.exists("/tmp/escape.tar.zst"))
            let traversal = try await daemon.json(ErrorJSON.self, "POST", "/v1/restore", body: #"{"importPath":"\#(archives)/../crpod.conf","pod":"pb"}"#, status: 403)
            #expect(traversal.error.contains("without .."))
            // One log line per API restore (what, who asked, where to, how long) and per refusal.
            let lines = try daemon.logLines()
            let c2 = lines.filter { $0.contains("restored \(archive) (API POST /v1/restore from uid 0 pid ") && $0.contains(" into pod pb as c2 (") }
            #expect(c2.count == 1 && c2[0].hasSuffix(" ms"), "\(lines.joined(separator: "\n"))")
            #expect(lines.filter { $0.contains("restored an uploaded archive (API PUT /v1/restore/upload from uid 0") && $0.contains("as c3 (") }.count == 1)
            #expect(lines.filter { $0.contains("as c4 (") }.count == 1, "an async job is logged when it ends")
            #expect(lines.filter { $0.contains("not restored: \(archives)/../crpod.conf (API POST /v1/restore") && $0.contains("[path_not_allowed]") }.count == 1,
                    "\(lines.joined(separator: "\n"))")

            let metrics = try await daemon.request("GET", "/metrics").text
            for line in ["crpod_restores_total{result=\"success\"} 3", "crpod_restore_duration_seconds_count 3", "crpod_jobs_in_flight 0",
                         "crpod_spool_depth 0", "crpod_checkpoints_total{result=\"success\"} 1"] {
                #expect(metrics.contains(line), "metrics lack \(line):\n\(metrics)")
            }
            #expect(await daemon.stop() == 0)
            #expect(await daemon.listener.receive { $0.contains("STOPPING=1") } != nil)
        }
    }

    @Test("non-root peers are refused by SO_PEERCRED unless in the configured group")
    func peerCredentials() async throws {
        try await withCrpod { crpod in
            let directory = "/tmp/crpod-sock-\(ObjectIDs.random().prefix(8))"
            try Files.makeDirectories(directory, mode: 0o755)
            defer { try? Files.removeTree(directory) }
            let daemon = try await DaemonProcess(crpod, config: ["socket_mode = 0666", "socket_group = 4242"], socketDirectory: directory)
            func asNobody(_ groups: [String]) async throws -> (code: String, body: String) {
                let result = try await crpod.runner.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534"] + groups + [
                    "/usr/bin/curl", "-s", "-w", "\n%{http_code}", "--unix-socket", daemon.socket, "http://crpod/v1/pods"])
                let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
            }
            let refused = try await asNobody(["--clear-groups"])
            #expect(refused.code == "403", "nobody: \(refused)")
            #expect(refused.body.contains("may not use the crpod API"))
            let member = try await asNobody(["--groups=4242"])
            #expect(member.code == "200", "nobody in group 4242: \(member)")
            #expect(try await daemon.request("GET", "/v1/pods").status == 200, "root is let in")
            #expect(try await daemon.request("GET", "/metrics").text.contains("crpod_api_refused_peers_total 1"))
            #expect(await daemon.stop() == 0)
        }
    }

    @Test("request and upload size limits, slow clients cut off, the daemon stays healthy")
    func limits() async throws {
        try await withCrpod { crpod in
            let daemon = try await DaemonProcess(crpod, config: ["max_request_bytes = 1024", "max_upload_bytes = 4096", "read_timeout = 1"])
            let big = try await daemon.request("POST", "/v1/pods", body: [UInt8](repeating: UInt8(ascii: "x"), count: 2000))
            #expect(big.status == 413, "\(big.status) \(big.text)")
            let upload = try await daemon.request("PUT", "/v1/restore/upload?pod=p", body: [UInt8](repeating: 0, count: 10000))
            #expect(upload.status == 413, "\(upload.status) \(upload.text)")
            #expect(((try? Files.listDirectory(crpod.root + "/uploads")) ?? []).isEmpty, "a refused upload leaves no file")

            // Headers never finished: the connection is closed. A body that stalls: 408.
            let slowHead = try RawHTTP.connect(daemon.socket)
            RawHTTP.send(slowHead, Array("GET /v1/health HTTP/1.1\r\nHost: cr".utf8))
            let started = ContinuousClock.now
            let cut = try await RawHTTP.receiveOffPool(slowHead)
            close(slowHead)
            #expect(cut.status == 0 && cut.body.isEmpty, "closed without an answer")
            #expect(ContinuousClock.now - started < .seconds(10))
            let slowBody = try RawHTTP.connect(daemon.socket)
            RawHTTP.send(slowBody, Array("POST /v1/pods HTTP/1.1\r\nHost: crpod\r\nContent-Length: 100\r\n\r\n{\"na".utf8))
            let answer = try await RawHTTP.receiveOffPool(slowBody)
            close(slowBody)
            #expect(answer.status == 408, "slow body: \(answer.status) \(answer.text)")
            #expect(ContinuousClock.now - started < .seconds(20))
            #expect(try await daemon.request("GET", "/v1/health").status == 200)
            #expect(await daemon.stop() == 0)
        }
    }

    @Test("socket activation: the daemon serves on the socket systemd-socket-activate passes in")
    func socketActivation() async throws {
        try await withCrpod { crpod in
            let socket = crpod.base + "/activated.sock"
            let daemon = try await DaemonProcess(crpod, launcher: ["/usr/bin/systemd-socket-activate", "-l", socket, "-E", "NOTIFY_SOCKET", "-E", "PATH"], waitReady: false)
            // systemd-socket-activate binds, then execs crpod on the first connection.
            #expect(try await eventually { Files.exists(socket) })
            // The socket file exists once it is bound; it listens a moment later (refused until then).
            var answer: RawHTTP.Response?
            for _ in 0..<100 where answer == nil {
                answer = try? await RawHTTP.call(socket: socket, method: "GET", path: "/v1/health")
                if answer == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let health = try JSONDecoder().decode(HealthJSON.self, from: Data(try #require(answer, "no answer on \(socket) in 10 s").body))
            let ready = try #require(await daemon.listener.receive(seconds: 60) { $0.contains("READY=1") })
            #expect(ready.contains("socket-activated fd 3"), "\(ready)")
            #expect(health.pid == daemon.pid, "the activated process itself answers")
            #expect(!Files.exists(daemon.socket), "it did not bind its own socket")
            #expect(await daemon.stop() == 0)
        }
    }

    @Test("notify: STATUS then READY; SIGHUP sends RELOADING and applies the new config; SIGTERM sends STOPPING")
    func notifyAndReload() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let listenerPath = crpod.base + "/ordered.sock"
            let listener = try NotifyListener(path: listenerPath)
            let daemon = try await DaemonProcess(crpod, environment: ["NOTIFY_SOCKET": listenerPath], waitReady: false)
            let first = try #require(await listener.receive(seconds: 60))
            #expect(first.hasPrefix("STATUS=API on"), "\(first)")
            let ready = try #require(await listener.receive(seconds: 60))
            #expect(ready.hasSuffix("READY=1") && ready.contains("watching"), "\(ready)")

            let body = #"{"importPath":"\#(archive)","pod":"pa","name":"again"}"#
            #expect(try await daemon.request("POST", "/v1/restore", body: Array(body.utf8)).status == 403, "the base dir is not an API dir yet")
            let config = try Files.readText(crpod.base + "/crpod.conf")
            try Files.writeAtomically(crpod.base + "/crpod.conf", Array((config + "api_dir = \(crpod.base)\n").utf8))
            kill(daemon.pid, SIGHUP)
            #expect(await listener.receive { _ in true }?.hasPrefix("RELOADING=1") == true)
            #expect(await listener.receive { _ in true }?.contains("READY=1") == true)
            let restored = try await daemon.request("POST", "/v1/restore", body: Array(body.utf8))
            #expect(restored.status == 200, "after reload: \(restored.text)")
            kill(daemon.pid, SIGTERM)
            #expect(await listener.receive { _ in true }?.hasPrefix("STOPPING=1") == true)
            await daemon.exited()
            #expect(daemon.process.terminationStatus == 0)
        }
    }
}

struct HealthJSON: Decodable {
    var status: String
    var pid: Int32
    var jobsInFlight: Int
    var spoolDepth: Int
}

struct RunBody: Encodable {
    var name: String
    var pod: String?
    var rootfs: String
    var env: [String] = []
    var workdir = "/"
    var command: [String]
}

struct CheckpointJSON: Decodable {
    var id: String
    var archive: String?
}

struct RestoreJSON: Decodable {
    var id: String
    var name: String
    var podName: String?
}
