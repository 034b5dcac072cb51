#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// Every error status the API documents, through the real daemon: the status and the machine
/// code come from the error's type (jobs keep it), never from the message's words.
@Suite("API error statuses and codes", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct APIStatusTests {
    @Test("422 refused (one problem, several, policy), 400 invalid archive, 404, 409 (name in use, not running), 403, 429")
    func statusPerErrorType() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            try await crpod.ok(["run", "--name", "quick", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--", "true"])
            try Files.writeAtomically(crpod.base + "/garbage.tar.zst", Array("not an archive".utf8))
            // The test rootfs is not allowed at first: a valid restore is refused by the policy.
            let config = try Files.readText(crpod.base + "/crpod.conf")
            let withoutRootfs = config.split(separator: "\n").filter { $0 != "allow_rootfs = \(PrivilegedHost.rootfs)" }.joined(separator: "\n")
            try Files.writeAtomically(crpod.base + "/crpod.conf", Array((withoutRootfs + "\n").utf8))
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(crpod.base)", "max_jobs = 1", "max_queued = 0"])
            func expectError(_ method: String, _ path: String, _ body: String, status: Int, code: String, _ words: String = "",
                             sourceLocation: SourceLocation = #_sourceLocation) async throws {
                let answer = try await daemon.json(ErrorJSON.self, method, path, body: body, status: status, sourceLocation: sourceLocation)
                #expect(answer.status == status && answer.code == code && (words.isEmpty || answer.error.contains(words)), "\(answer)", sourceLocation: sourceLocation)
            }
            let restore = { (fields: String) in #"{"importPath":"\#(archive)"\#(fields)}"# }
            try await expectError("POST", "/v1/restore", restore(#","pod":"pb","name":"p1""#), status: 422, code: "policy_refused", "restore refused by policy")

            try Files.writeAtomically(crpod.base + "/crpod.conf", Array((config + "api_dir = \(crpod.base)\nmax_jobs = 1\nmax_queued = 0\n").utf8))
            kill(daemon.pid, SIGHUP)
            #expect(await daemon.listener.receive(seconds: 30) { $0.contains("READY=1") } != nil, "reloaded")
            // One planner problem keeps 422 whatever its words; several too.
            try await expectError("POST", "/v1/restore", restore(""), status: 422, code: "restore_refused", "without --pod")
            try await expectError("POST", "/v1/restore", restore(#","pod":"nope","name":"c""#), status: 422, code: "restore_refused", "cannot restore:")
            try await expectError("POST", "/v1/restore", #"{"importPath":"\#(crpod.base)/garbage.tar.zst","pod":"pb"}"#, status: 400, code: "archive_invalid")
            try await expectError("GET", "/v1/containers/nope", "", status: 404, code: "container_not_found")
            try await expectError("POST", "/v1/checkpoint", #"{"containers":["nope"],"request":{}}"#, status: 404, code: "container_not_found")
            try await expectError("POST", "/v1/pods", #"{"name":"pa"}"#, status: 409, code: "name_in_use")
            #expect(try await eventually { try await crpod.json(ContainerJSON.self, ["inspect", "quick"]).state != "running" })
            try await expectError("POST", "/v1/checkpoint", #"{"containers":["quick"],"request":{}}"#, status: 409, code: "container_not_running")
            try await expectError("POST", "/v1/restore", #"{"importPath":"/etc/passwd","pod":"pb"}"#, status: 403, code: "path_not_allowed")
            try await expectError("POST", "/v1/pods", "{not json", status: 400, code: "invalid_input")

            // One job at once, none waiting: a second restore while the first runs is 429.
            let first = try await daemon.json(JobJSON.self, "POST", "/v1/restore?async=true", body: restore(#","pod":"pb","name":"r1""#), status: 202)
            try await expectError("POST", "/v1/restore?async=true", restore(#","pod":"pb","name":"r2""#), status: 429, code: "queue_full")
            #expect(try await eventually(seconds: 60) { try await daemon.json(JobJSON.self, "GET", "/v1/jobs/\(first.id)").state == "succeeded" })
            #expect(await daemon.stop() == 0)
        }
    }
}
