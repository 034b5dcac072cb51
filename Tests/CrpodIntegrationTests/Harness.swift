#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodDrivers
import CrpodLinux
import Testing

/// Privileged tests need root, runc, CRIU, the busybox test rootfs and the built binaries.
/// Locally they skip with the reason; under CI=true they always run, so a missing tool fails.
enum PrivilegedHost {
    static let rootfs = ProcessInfo.processInfo.environment["CRPOD_TEST_ROOTFS"] ?? "/var/lib/crpod-test/rootfs-busybox"
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    /// CRPOD_TEST_RESTORE_ENGINE=native|runc: `crpod restore` in the tests uses that engine while
    /// everything else keeps the default (runs the restore suites natively on runc dumps);
    /// else CRPOD_ENGINE's (every command's engine).
    static let restoreEngine = ["CRPOD_TEST_RESTORE_ENGINE", "CRPOD_ENGINE"].lazy
        .compactMap { ProcessInfo.processInfo.environment[$0] }.first { !$0.isEmpty }

    static var binaryDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["CRPOD_BIN_DIR"] { return dir }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "."
        return Files.parent(of: exe)
    }

    /// Why the privileged tests cannot run here, or nil when they can.
    static var missing: String? {
        if geteuid() != 0 { return "not root" }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        if ToolRunner.which("runc", searchPath: path) == nil { return "runc not on PATH (run contrib/provision.sh)" }
        if ToolRunner.which("criu", searchPath: path) == nil { return "criu not on PATH (run contrib/provision.sh)" }
        if !Files.isDirectory(rootfs) { return "test rootfs \(rootfs) missing (run contrib/provision.sh)" }
        for binary in ["crpod", "crpod-pause", "crpod-logger", "crpod-sockprobe", "crpod-shmattach"] where access("\(binaryDirectory)/\(binary)", X_OK) != 0 {
            return "\(binaryDirectory)/\(binary) not built (run swift build first)"
        }
        return nil
    }

    static var enabled: Bool { isCI || missing == nil }
}

/// One isolated crpod instance: temp root, run root, config with its own cgroup parent.
/// Teardown removes everything in reverse order and reports leaks.
final class CrpodInstance: @unchecked Sendable {
    let base: String
    let cgroupParent: String
    let runner = ToolRunner()

    var root: String { base + "/root" }
    var runRoot: String { base + "/run" }
    var crpod: String { PrivilegedHost.binaryDirectory + "/crpod" }

    init() throws {
        if let reason = PrivilegedHost.missing { Issue.record("privileged test cannot run: \(reason)") }
        try #require(PrivilegedHost.missing == nil)
        let suffix = String(ObjectIDs.random().prefix(12))
        base = "/tmp/crpod-it-\(suffix)"
        cgroupParent = "/crpod-it-\(suffix)"
        try Files.makeDirectories(base, mode: 0o700)
        // The daemon keys matter only to daemon tests: their restores use the test rootfs or
        // copies under the instance's own directory.
        // No CNI configuration unless a test asks for one (`--cni-config-dir`): pods keep a
        // lo-only netns, so tests that are not about networks create no veths or leases.
        let config = "cgroup_parent = \"\(cgroupParent)\"\nallow_rootfs = \(PrivilegedHost.rootfs)\nallow_rootfs = \(base)\n"
            + "cni_config_dir = \(base)/no-cni\n"
        try Files.writeAtomically(base + "/crpod.conf", Array(config.utf8))
    }

    struct Outcome {
        let status: ToolStatus
        let stdout: String
        let stderr: String
        var ok: Bool { status == .exited(0) }
        var trimmed: String {
            String(stdout.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
        }
    }

    /// Runs `crpod <arguments>` against this instance.
    @discardableResult
    func run(_ arguments: [String], environment: [String: String]? = nil) async throws -> Outcome {
        var global = ["--root", root, "--run-root", runRoot, "--config", base + "/crpod.conf"]
        let (first, rest) = (arguments.first.map { [$0] } ?? [], Array(arguments.dropFirst()))
        if first == ["restore"], !rest.contains("--engine"), let engine = PrivilegedHost.restoreEngine { global += ["--engine", engine] }
        let result: ToolResult
        if first == ["archive"] {
            result = try await runner.run(crpod, arguments, environment: environment)  // archive commands take no state options
        } else if first == ["pod"] || first == ["image"], let verb = rest.first {
            result = try await runner.run(crpod, first + [verb] + global + Array(rest.dropFirst()), environment: environment)
        } else {
            result = try await runner.run(crpod, first + global + rest, environment: environment)
        }
        return Outcome(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    /// Runs and requires success, returning trimmed stdout.
    @discardableResult
    func ok(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let outcome = try await run(arguments)
        #expect(outcome.ok, "crpod \(arguments.joined(separator: " ")) failed: \(outcome.stderr)", sourceLocation: sourceLocation)
        try #require(outcome.ok, sourceLocation: sourceLocation)
        return outcome.trimmed
    }

    func json<T: Decodable>(_ type: T.Type, _ arguments: [String]) async throws -> T {
        let text = try await ok(arguments + ["--format", "json"])
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// Everything crpod left on the host for this instance: runtime state, cgroup dirs, mounts.
    func leftovers() async throws -> [String] {
        var found: [String] = []
        for engine in ["runc", "native"] where Files.isDirectory(runRoot + "/" + engine) {
            found += try Files.listDirectory(runRoot + "/" + engine).map { "\(engine) state \(runRoot)/\(engine)/\($0)" }
        }
        let cgroups = CgroupSet(layout: try CgroupLayout.current())
        for tree in cgroups.v1.map({ $0 as any CgroupTree }) + (cgroups.v2.map { [$0] } ?? []) {
            let dir = try tree.directory(cgroupParent)
            if Files.isDirectory(dir) {
                found += try Files.listDirectory(dir).filter { !$0.contains(".") && $0 != "tasks" && $0 != "notify_on_release" }
                    .map { "cgroup \(dir)/\($0)" }
            }
        }
        // Nested cgroups too (a source path CRIU re-created under a removed pod, an infra's own).
        found += try cgroupDirectories(below: 1).map { "cgroup \($0)" }
        let mounts = try MountTable.parse(Files.readText("/proc/self/mounts"))
        found += mounts.filter { $0.mountPoint.hasPrefix(base) }.map { "mount \($0.mountPoint)" }
        if Files.isDirectory(runRoot + "/pods") {
            found += try Files.listDirectory(runRoot + "/pods").map { "pod run dir \($0) (its /dev/shm)" }
        }
        if Files.isDirectory(root + "/containers") {
            found += try Files.listDirectory(root + "/containers").map { "container dir \($0)" }
        }
        return found
    }

    /// Removes every pod and container, then the cgroup parent and the temp directory.
    func tearDown() async {
        if let pods = try? await run(["pod", "ls", "-q"]) {
            for id in pods.stdout.split(separator: "\n") { _ = try? await run(["pod", "rm", "-f", String(id)]) }
        }
        if let all = try? await run(["ps", "-a", "-q"]) {
            for id in all.stdout.split(separator: "\n") { _ = try? await run(["rm", "-f", String(id)]) }
        }
        if let cgroups = try? CgroupSet(layout: CgroupLayout.current()) { try? cgroups.remove(cgroupParent) }
        for mount in ((try? MountTable.parse(Files.readText("/proc/self/mounts"))) ?? []).reversed() where mount.mountPoint.hasPrefix(base) {
            try? Mounts.unmount(mount.mountPoint)
        }
        try? Files.removeTree(base)
    }
}

/// Runs `body` with a fresh instance and always awaits its teardown (an unstructured
/// `defer { Task { … } }` may never run before the test process exits).
func withCrpod(_ body: (CrpodInstance) async throws -> Void) async throws {
    try await withInstance(CrpodInstance.init, body)
}

extension CrpodInstance {
    /// A second instance whose state root is a tmpfs of `bytes` (disk-full tests).
    static func sibling(of instance: CrpodInstance, rootOnTmpfsBytes bytes: UInt64) -> () throws -> CrpodInstance {
        {
            let other = try CrpodInstance()
            try Files.makeDirectories(other.root, mode: 0o700)
            try Mounts.mountTmpfs(at: other.root, sizeBytes: bytes)
            return other
        }
    }
}

/// Like `withCrpod`, for an instance made by `make`.
func withInstance(_ make: () throws -> CrpodInstance, _ body: (CrpodInstance) async throws -> Void) async throws {
    let crpod = try make()
    do {
        try await body(crpod)
    } catch {
        await crpod.tearDown()
        throw error
    }
    await crpod.tearDown()
}

enum ObjectIDs {
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(generator.next() as UInt8, radix: 16) }.joined()
    }
}

/// Polls `condition` every 50 ms for up to `seconds`.
func eventually(seconds: Double = 10, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
