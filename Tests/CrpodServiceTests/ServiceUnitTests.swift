import CrpodArchive
@testable import CrpodEngine
import CrpodLinux
import Foundation
import Logging
import Synchronization
import Testing
@testable import CrpodService

@Suite("API routing, metrics, jobs and daemon config")
struct ServiceUnitTests {
    func request(_ method: String, _ path: String) -> APIRequest {
        APIRequest(method: method, path: path, query: [:], body: [], uploadPath: nil, peer: PeerCredentials(pid: 1, uid: 0, gid: 0))
    }

    @Test func routesCaptureTheirParameters() {
        let route = RouteMatcher(request("GET", "/v1/containers/abc/logs"))
        #expect(route.match("GET", "/v1/containers/:ref/logs") == ["abc"])
        #expect(route.match("GET", "/v1/containers/:ref") == nil)
        #expect(route.match("POST", "/v1/containers/:ref/logs") == nil)
        #expect(RouteMatcher(request("PATCH", "/v1/pods")).pathKnown)
        #expect(!RouteMatcher(request("GET", "/v2/pods")).pathKnown)
    }

    @Test func queryStringsArePercentDecoded() {
        let split = APIChannelHandler.split("/v1/restore/upload?pod=my%20pod&name=a+b&flag")
        #expect(split.path == "/v1/restore/upload")
        #expect(split.query == ["pod": "my pod", "name": "a b", "flag": ""])
    }

    @Test func metricsRenderTheExpositionFormat() {
        let metrics = Metrics()
        metrics.restoreFinished(result: "success", seconds: 0.3)
        metrics.restoreFinished(result: "failure", seconds: 12)
        metrics.request(status: 200)
        let text = metrics.render(jobsInFlight: 3, spoolDepth: 7)
        #expect(text.contains("crpod_restores_total{result=\"failure\"} 1\ncrpod_restores_total{result=\"success\"} 1"))
        #expect(text.contains("crpod_restore_duration_seconds_bucket{le=\"0.25\"} 0"))
        #expect(text.contains("crpod_restore_duration_seconds_bucket{le=\"0.5\"} 1"))
        #expect(text.contains("crpod_restore_duration_seconds_bucket{le=\"30\"} 2"))
        #expect(text.contains("crpod_restore_duration_seconds_bucket{le=\"+Inf\"} 2"))
        #expect(text.contains("crpod_restore_duration_seconds_count 2"))
        #expect(text.contains("crpod_jobs_in_flight 3") && text.contains("crpod_spool_depth 7"))
        #expect(text.contains("# TYPE crpod_restore_duration_seconds histogram"))
        #expect(text.hasSuffix("\n"))
    }

    @Test func theJobQueueIsBoundedAndRunsAtMostTheLimit() async throws {
        let jobs = JobRegistry(maxConcurrent: 1, maxQueued: 1)
        let gate = AsyncStream<Void>.makeStream()
        let first = try await jobs.submit(kind: "t", description: "first") { _ in
            for await _ in gate.stream { break }
            return "done"
        }
        #expect(try await eventually { try await jobs.job(first).state == .running })
        let second = try await jobs.submit(kind: "t", description: "second") { _ in "second" }
        #expect(try await jobs.job(second).state == .queued)
        await #expect(throws: JobError.queueFull(limit: 1)) {
            _ = try await jobs.submit(kind: "t", description: "third") { _ in "x" }
        }
        gate.continuation.yield()
        #expect(try await jobs.wait(first).result == "\"done\"")
        #expect(try await jobs.wait(second).state == .succeeded)
        #expect(await jobs.inFlight == 0)
    }

    @Test func aFailedJobKeepsItsTypedError() async throws {
        let jobs = JobRegistry(maxConcurrent: 2, maxQueued: 2)
        let id = try await jobs.submit(kind: "t", description: "bad") { _ -> String in throw EngineError.podNotFound("p") }
        let job = try await jobs.wait(id)
        #expect(job.state == .failed && job.error?.contains("pod \"p\" cannot be retrieved") == true)
        #expect(job.errorCode == "pod_not_found")
        let failure = try #require(await jobs.failure(id))
        #expect(APIRouter.failure(failure).status == 404)
        // One planner problem, in words that match no other rule: still a refusal.
        let refused = try await jobs.submit(kind: "t", description: "refused") { _ -> String in
            throw EngineError.restoreRefused(problems: ["pod \"p\" cannot be retrieved"])
        }
        _ = try await jobs.wait(refused)
        #expect(APIRouter.failure(try #require(await jobs.failure(refused))).status == 422)
    }

    /// Status and code of an error answer, decoded from the wire body.
    func answer(_ error: any Error) throws -> (Int, String) {
        let response = APIRouter.failure(error)
        let body = try JSONDecoder().decode(APIErrorBody.self, from: Data(response.body))
        #expect(body.status == response.status && body.error == "\(error)")
        return (response.status, body.code)
    }

    @Test func errorTypesMapToStatusesAndCodes() throws {
        #expect(try answer(EngineError.containerNotFound("x")) == (404, "container_not_found"))
        #expect(try answer(EngineError.nameInUse(kind: "pod", name: "a", id: "b")) == (409, "name_in_use"))
        #expect(try answer(EngineError.containerNotRunning(name: "a", state: "stopped")) == (409, "container_not_running"))
        #expect(try answer(EngineError.policyRefused(problems: ["x"])) == (422, "policy_refused"))
        #expect(try answer(EngineError.restoreRefused(problems: ["x"])) == (422, "restore_refused"))
        #expect(try answer(EngineError.restoreRefused(problems: ["x", "y"])) == (422, "restore_refused"))
        #expect(try answer(EngineError.invalidInput(what: "a", detail: "b")) == (400, "invalid_input"))
        #expect(try answer(EngineError.archiveInvalid(path: "/a", problems: ["x"])) == (400, "archive_invalid"))
        #expect(try answer(EngineError.step("extract /a", cause: ArchiveError.duplicateMember(name: "m"))) == (400, "archive_invalid"))
        #expect(try answer(EngineError.step("open /a", cause: LinuxError.notRegularFile(path: "/a", kind: "a FIFO"))) == (400, "not_a_regular_file"))
        #expect(try answer(EngineError.step("read /a", cause: LinuxError.syscall(operation: "read", path: "/a", errno: .ioError))) == (500, "internal"))
        #expect(try answer(APIPathError(path: "/x", what: "archive", reason: "outside")) == (403, "path_not_allowed"))
        #expect(try answer(JobError.queueFull(limit: 3)) == (429, "queue_full"))
    }

    @Test func logLinesCannotBeForged() {
        let recorder = RecordingLogHandler()
        var logger = Logger(label: "t") { _ in EscapingLogHandler(recorder) }
        logger.logLevel = .info
        logger.info("handled x\ny", metadata: ["archive": "evil\n<0>forged\r\u{1b}[2J\u{2028}", "list": [.string("a\nb")]])
        let event = recorder.events.withLock { $0.first }
        #expect(event?.message == "handled x\\ny")
        #expect(event?.archive == "evil\\n<0>forged\\r\\u{1b}[2J\\u{2028}")
        #expect(event?.list == "[\"a\\\\nb\"]" || event?.list.contains("a\\nb") == true)
        #expect(EscapingLogHandler.escape("plain name.tar.zst") == "plain name.tar.zst")
    }

    @Test func theDaemonConfigReadsEveryKey() throws {
        let text = """
        socket = /run/x.sock
        socket_mode = 0600
        socket_group = 4242
        watch = /spool/a:pod-a
        watch = /spool/b
        pod_map = old:new
        max_jobs = 3
        max_queued = 9
        api_dir = /archives
        allow_rootfs = /rootfs
        allow_bind_source = /srv/data
        allow_capability = CAP_NET_ADMIN
        allow_privileged = true
        boot_restore = /boot/a.tar.zst:pod-a:name-a
        boot_restore = /boot/b.tar.zst:pod-b
        boot_retries = 5
        boot_retry_delay = 0.5
        max_request_bytes = 2048
        max_upload_bytes = 4096
        read_timeout = 7
        """
        let settings = EngineSettings(root: "/var/lib/crpod", runRoot: "/run/crpod", runtimePath: nil, criuPath: nil, criuSource: nil,
                                      cgroupParent: "/crpod", helperDirectory: "/x")
        let config = try DaemonConfig.load(try ConfigFile.parse(text, path: "t.conf"), settings: settings)
        #expect(config.socketPath == "/run/x.sock" && config.socketMode == 0o600 && config.socketGroup == 4242)
        #expect(config.watch == [SpoolDirectory(path: "/spool/a", defaultPod: "pod-a"), SpoolDirectory(path: "/spool/b")])
        #expect(config.podMap == ["old": "new"] && config.maxJobs == 3 && config.maxQueued == 9)
        #expect(config.apiDirectories == ["/archives"])
        #expect(config.policy == RestorePolicyValues.expected)
        #expect(config.bootRestores == [BootRestore(archive: "/boot/a.tar.zst", pod: "pod-a", name: "name-a"), BootRestore(archive: "/boot/b.tar.zst", pod: "pod-b", name: nil)])
        #expect(config.bootRetries == 5 && config.bootRetryDelaySeconds == 0.5)
        #expect(config.limits.maxRequestBytes == 2048 && config.limits.maxUploadBytes == 4096 && config.limits.readTimeoutSeconds == 7)
    }

    @Test func daemonDefaultsLiveUnderTheStateRoots() throws {
        let settings = EngineSettings(root: "/r", runRoot: "/rr", runtimePath: nil, criuPath: nil, criuSource: nil, cgroupParent: "/crpod", helperDirectory: "/x")
        let config = try DaemonConfig.load(ConfigFile(), settings: settings)
        #expect(config.socketPath == "/rr/crpod.sock" && config.socketMode == 0o660 && config.socketGroup == nil)
        #expect(config.watch == [SpoolDirectory(path: "/r/spool/incoming")])
        #expect(config.apiDirectories == ["/r/spool", "/r/archives"])
        #expect(config.policy.allowedRootfs.isEmpty && config.policy.rootfsMustBeListed, "the daemon refuses every rootfs until allow_rootfs names some")
        let warnings = config.policyWarnings(configPath: "/etc/crpod/crpod.conf")
        #expect(warnings.count == 1 && warnings[0].contains("allows no rootfs") && warnings[0].contains("`allow_rootfs = DIR`")
                && warnings[0].contains("/etc/crpod/crpod.conf"), "\(warnings)")
    }

    @Test func anAllowedRootfsThatIsNoDirectoryIsWarnedAbout() throws {
        let settings = EngineSettings(root: "/r", runRoot: "/rr", runtimePath: nil, criuPath: nil, criuSource: nil, cgroupParent: "/crpod", helperDirectory: "/x")
        let config = try DaemonConfig.load(try ConfigFile.parse("allow_rootfs = /tmp\nallow_rootfs = /no/such/rootfs\n", path: "c.conf"), settings: settings)
        #expect(config.policyWarnings(configPath: "c.conf") == ["allow_rootfs /no/such/rootfs (in c.conf) is not a directory: nothing can be restored onto it"])
    }

    @Test(arguments: ["socket_mode = 9z", "boot_restore = relative.tar:pod", "pod_map = nocolon", "max_jobs = -1", "boot_retry_delay = soon"])
    func badDaemonValuesNameTheirLine(line: String) throws {
        let settings = EngineSettings(root: "/r", runRoot: "/rr", runtimePath: nil, criuPath: nil, criuSource: nil, cgroupParent: "/crpod", helperDirectory: "/x")
        #expect(throws: EngineError.self) { try DaemonConfig.load(try ConfigFile.parse("\n" + line, path: "bad.conf"), settings: settings) }
        do { _ = try DaemonConfig.load(try ConfigFile.parse("\n" + line, path: "bad.conf"), settings: settings) } catch {
            #expect("\(error)".contains("bad.conf:2"), "\(error)")
        }
    }

    @Test func peerGroupsComeFromProcStatus() throws {
        let dir = "/tmp/crpod-peer-\(UInt32.random(in: 0...UInt32.max))"
        try Files.makeDirectories(dir + "/77", mode: 0o700)
        defer { try? Files.removeTree(dir) }
        try Files.writeAtomically(dir + "/77/status", Array("Name:\tx\nGroups:\t10 20 4242 \nUid:\t1000\n".utf8))
        let peer = PeerCredentials(pid: 77, uid: 1000, gid: 5)
        #expect(peer.groups(procRoot: dir) == [5, 10, 20, 4242])
        #expect(PeerCredentials.groupID(named: "4242") == 4242)
        #expect(PeerCredentials.groupID(named: "root") == 0)
    }
}

import CrpodCore

enum RestorePolicyValues {
    static let expected: RestorePolicy = {
        var policy = RestorePolicy(allowedRootfs: ["/rootfs"], allowedBindSources: ["/srv/data"], allowedExtraCapabilities: ["CAP_NET_ADMIN"], allowPrivileged: true)
        policy.rootfsMustBeListed = true
        return policy
    }()
}

func eventually(seconds: Double = 5, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Records what reaches the inner handler (message and two metadata values as text).
final class RecordingLogHandler: LogHandler, @unchecked Sendable {
    struct Event { var message: String; var archive: String; var list: String }
    let events = Mutex<[Event]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let recorded = Event(message: "\(event.message)", archive: event.metadata?["archive"].map { "\($0)" } ?? "",
                             list: event.metadata?["list"].map { "\($0)" } ?? "")
        events.withLock { $0.append(recorded) }
    }
}
