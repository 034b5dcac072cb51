#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// The trust boundary of the spool and the API's archive paths (issue 10): items are opened
/// once without following symlinks or blocking, must be regular files within limits, and each
/// bad one fails alone while the daemon keeps working and stops promptly.
@Suite("hostile spool items and API archive paths", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct HostileSpoolTests {
    @Test("a FIFO, symlinks (/etc/passwd, an outside archive, /dev/zero), a device, a 10 MB sidecar, a huge sparse file and a newline name each fail alone; the next archive restores; SIGTERM is prompt")
    func hostileItemsFailAlone() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["pod", "create", "pb"])
            let (archive, _) = try await crpod.checkpointedCounter(pod: "pa")
            let spool = crpod.base + "/spool", stage = crpod.base + "/stage", outside = crpod.base + "/outside"
            for directory in [spool, stage, outside] { try Files.makeDirectories(directory, mode: 0o700) }
            // Already there at start-up: found by the first scan, refused the same way.
            try #require(symlink("/dev/zero", spool + "/early-zero.tar.zst") == 0)
            try #require(mkfifo(spool + "/early-fifo.tar.zst", 0o600) == 0)
            let daemon = try await DaemonProcess(crpod, arguments: ["--watch", spool + ":pb"], logLevel: nil)

            // Each item is made in a staging directory and renamed in, as a writer would.
            func dropIn(_ name: String, _ make: (String) throws -> Void) throws {
                try make(stage + "/" + name)
                try #require(rename(stage + "/" + name, spool + "/" + name) == 0, "rename \(name)")
            }
            try Files.writeAtomically(outside + "/elsewhere.tar.zst", try Files.read(archive))
            let forged = "evil\n<0>crpod: forged line.tar.zst"
            let refused: [(name: String, reason: String)] = [
                ("fifo.tar.zst", "FIFO"), ("passwd.tar.zst", "symbolic link to /etc/passwd"),
                ("outside.tar.zst", "symbolic link to \(outside)/elsewhere.tar.zst"), ("zero.tar.zst", "symbolic link to /dev/zero"),
                ("device.tar.zst", "character device"), ("sidecar.tar.zst", "sidecar unusable"), (forged, "error"),
                ("sparse.tar.zst", "over the limit of"), ("early-zero.tar.zst", "symbolic link to /dev/zero"),
                ("early-fifo.tar.zst", "FIFO"), ("bad_.tar.zst", "not valid UTF-8 (bytes 62 61 64 ff 2e"),
            ]
            try dropIn("fifo.tar.zst") { try #require(mkfifo($0, 0o600) == 0) }
            try dropIn("passwd.tar.zst") { try #require(symlink("/etc/passwd", $0) == 0) }
            try dropIn("outside.tar.zst") { try #require(symlink(outside + "/elsewhere.tar.zst", $0) == 0) }
            try dropIn("zero.tar.zst") { try #require(symlink("/dev/zero", $0) == 0) }
            try dropIn("device.tar.zst") { try #require(mknod($0, S_IFCHR | 0o600, dev_t((1 << 8) | 5)) == 0) }  // /dev/zero's 1:5
            try dropIn("sidecar.tar.zst.target") { try Files.writeAtomically($0, [UInt8](repeating: UInt8(ascii: "p"), count: 10 << 20)) }
            try dropIn("sidecar.tar.zst") { try Files.writeAtomically($0, try Files.read(archive)) }
            try dropIn("sparse.tar.zst") { try Files.writeAtomically($0, []); try #require(truncate($0, off_t(18) << 30) == 0) }  // 18 GiB of holes
            try dropIn(forged) { try Files.writeAtomically($0, Array("not an archive".utf8)) }
            // A name that is not UTF-8 ("bad\xff.tar.zst"): moved under a readable name.
            let badName: [CChar] = Array("bad".utf8CString.dropLast()) + [CChar(bitPattern: 0xff)] + Array(".tar.zst".utf8CString)
            let stagedBad = Array((stage + "/").utf8CString.dropLast()) + badName, spooledBad = Array((spool + "/").utf8CString.dropLast()) + badName
            let badFD = open(stagedBad, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            try #require(badFD >= 0)
            close(badFD)
            try #require(rename(stagedBad, spooledBad) == 0)
            try dropIn("good.tar.zst") { try Files.writeAtomically($0, try Files.read(archive)) }

            #expect(try await eventually(seconds: 60) { Files.exists(spool + "/done/good.tar.zst.result.json") }, "the good archive after them restores")
            let good = try Files.readText(spool + "/done/good.tar.zst.result.json")
            #expect(good.contains("\"pod\" : \"pb\"") && good.contains("\"containerID\""), "\(good)")
            for item in refused {
                let result = spool + "/failed/" + item.name + ".result.json"
                #expect(try await eventually { Files.exists(result) }, "\(item.name) lands in failed/")
                let text = (try? Files.readText(result)) ?? ""
                #expect(text.contains(item.reason) && text.contains("\"errorCode\""), "\(item.name): \(text)")
                #expect(Files.exists(spool + "/failed/" + item.name), "\(item.name) is moved, never deleted")
            }
            #expect(Files.exists(spool + "/failed/sidecar.tar.zst.target"), "the bad sidecar goes with its archive")
            #expect(try Files.readText("/etc/passwd").contains("root:"), "the symlink's target is untouched")
            let podB = try await crpod.json(PodJSON.self, ["pod", "inspect", "pb"]).id
            let containers = try await crpod.json([ContainerJSON].self, ["ps", "--format", "json"])
            #expect(containers.filter { $0.pod == podB }.count == 1, "only the good archive was restored")

            let started = ContinuousClock.now
            #expect(await daemon.stop() == 0)
            #expect(ContinuousClock.now - started < .seconds(5), "SIGTERM stops the daemon promptly")
            let log = try Files.readText(crpod.base + "/daemon.log")
            #expect(log.contains("evil\\n<0>crpod: forged line.tar.zst"), "the name is logged escaped")
            #expect(!log.split(separator: "\n").contains { $0.hasPrefix("<0>crpod: forged") }, "no forged log line:\n\(log)")
            // At the default level: one line per refused item (its path, code and reason), one for the restore.
            let lines = try daemon.logLines()
            for (path, reason) in [("/fifo.tar.zst", "FIFO"), ("/passwd.tar.zst", "symbolic link to /etc/passwd"), ("/sparse.tar.zst", "over the limit of")] {
                let found = lines.filter { $0.contains("refused \(spool)\(path) (spool \(spool))") }
                #expect(found.count == 1 && found[0].contains("moved to failed/ unopened") && found[0].contains(reason), "\(path): \(found)")
            }
            let sidecar = lines.filter { $0.contains("not restored: \(spool)/failed/sidecar.tar.zst (spool \(spool))") }
            #expect(sidecar.count == 1 && sidecar[0].contains("[spool_item_refused]") && sidecar[0].contains("sidecar unusable"), "\(sidecar)")
            let restored = lines.filter { $0.contains("restored \(spool)/done/good.tar.zst (spool \(spool)) into pod pb as good-") }
            #expect(restored.count == 1 && restored[0].hasSuffix(" ms"), "\(lines.joined(separator: "\n"))")
        }
    }

    @Test("API: inspecting a FIFO fails fast with 400 while /v1/health answers; a symlink to /dev/zero is outside (403)")
    func apiFIFO() async throws {
        try await withCrpod { crpod in
            let archives = crpod.base + "/archives"
            try Files.makeDirectories(archives, mode: 0o700)
            try #require(mkfifo(archives + "/pipe.tar.zst", 0o600) == 0)
            try #require(symlink("/dev/zero", archives + "/zero.tar.zst") == 0)
            let daemon = try await DaemonProcess(crpod, config: ["api_dir = \(archives)"])
            let socket = daemon.socket
            let started = ContinuousClock.now
            let inspections = (0..<4).map { _ in
                Task {
                    try await RawHTTP.call(socket: socket, method: "POST", path: "/v1/archives/inspect",
                                        body: Array(#"{"path":"\#(archives)/pipe.tar.zst"}"#.utf8))
                }
            }
            let health = try await daemon.request("GET", "/v1/health")
            #expect(health.status == 200, "health answers meanwhile: \(health.text)")
            for inspection in inspections {
                let answer = try await inspection.value
                #expect(answer.status == 400, "\(answer.status) \(answer.text)")
                let body = try JSONDecoder().decode(ErrorJSON.self, from: Data(answer.body))
                #expect(body.code == "not_a_regular_file" && body.error.contains("FIFO"), "\(body)")
            }
            #expect(ContinuousClock.now - started < .seconds(5), "fails fast")
            let zero = try await daemon.json(ErrorJSON.self, "POST", "/v1/archives/inspect", body: #"{"path":"\#(archives)/zero.tar.zst"}"#, status: 403)
            #expect(zero.code == "path_not_allowed", "\(zero)")
            #expect(try await daemon.request("GET", "/v1/health").status == 200)
            #expect(await daemon.stop() == 0)
        }
    }
}
