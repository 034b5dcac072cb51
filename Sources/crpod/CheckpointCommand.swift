import ArgumentParser
import CrpodService
import CrpodArchive
import CrpodEngine
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct CheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint running containers with CRIU (through runc, or run by crpod itself with --engine native).",
        discussion: """
        Without --export the checkpoint stays in the container's directory and the container becomes `checkpointed` (crpod restore NAME brings it back). With --export FILE the checkpoint is written as a podman-compatible archive (zstd by default), atomically and mode 0600; the local images are then temporary (written to a private tmpfs under the run root when the container's memory fits) and removed unless --keep. The native engine dumps any container, runc's too (runc's state goes unless -R), seizes the tree with ptrace instead of the cgroup freezer and skips CRIU's network lock for a pod's network namespace unless --tcp-established; its images restore with runc as well.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Export the checkpoint to this archive file.", valueName: "file"))
    var export: String?
    @Option(name: .customLong("create-image"), help: ArgumentHelp("Write the checkpoint as a checkpoint image (podman's and CRI-O's format) into the image store under this name; crpod image push sends it. One container.", valueName: "ref"))
    var createImage: String?
    @Option(help: ArgumentHelp("Archive compression: zstd (default), gzip or none.", valueName: "method"))
    var compress: CompressionMethod?
    @Flag(name: [.customShort("R"), .customLong("leave-running")], help: "Leave the container running after the checkpoint.")
    var leaveRunning = false
    @Flag(name: .customLong("tcp-established"), help: "Checkpoint established TCP connections.") var tcpEstablished = false
    @Flag(name: .customLong("file-locks"), help: "Checkpoint file locks.") var fileLocks = false
    @Flag(name: .customLong("ignore-rootfs"), help: "Leave the rootfs changes out of the exported archive.") var ignoreRootfs = false
    @Flag(name: .customLong("print-stats"), help: "Print checkpoint statistics as JSON (podman's keys; CRIU's freezing_time and frozen_time in µs).") var printStats = false
    @Flag(name: .shortAndLong, help: "Keep CRIU's logs, statistics and (with --export) the local images.") var keep = false
    @Argument(help: "Container names or ids.") var containers: [String]

    func validate() throws {
        if containers.isEmpty { throw ValidationError("name at least one container") }
        if createImage != nil && (containers.count != 1 || export != nil || compress != nil) {
            throw ValidationError("--create-image takes one container and neither --export nor --compress")
        }
    }

    func run() async throws {
        let started = ContinuousClock.now
        var request = CheckpointRequest(export: export.map(absolutePath), compression: compress)
        request.leaveRunning = leaveRunning
        request.tcpEstablished = tcpEstablished
        request.fileLocks = fileLocks
        request.ignoreRootfs = ignoreRootfs
        request.keep = keep
        if let createImage { return try await checkpointToImage(createImage, request: request) }
        // The byte counter goes to stderr, so it is shown only when stderr is a terminal (stdout
        // may be piped: `crpod checkpoint --export F c | ...` still shows progress).
        let showProgress = export != nil && !printStats && global.remoteHost == nil && isatty(2) == 1
        if showProgress { request.progress = Progress.reporter(label: "export") }
        let outcomes = try await global.client().checkpoint(containers, request)
        if showProgress { Progress.finishLine() }
        guard printStats else { return outcomes.forEach { print($0.id) } }
        try Output.json(CheckpointStatsJSON(
            podmanCheckpointDuration: microseconds(since: started),
            containerStatistics: outcomes.map {
                .init(id: $0.id, name: $0.name, runtimeCheckpointDuration: $0.runtimeCheckpointDuration, criuStatistics: $0.criuStatistics)
            }))
    }
}

extension CheckpointCommand {
    /// `--create-image`: prints the container's id, then the image ID.
    func checkpointToImage(_ reference: String, request: CheckpointRequest) async throws {
        let outcome = try await global.client().checkpointToImage(containers[0], ImageCheckpointCall(createImage: reference, request: request))
        print(outcome.checkpoint.id)
        print(outcome.image.id.hex)
    }
}

/// podman's `--print-stats` shape.
struct CheckpointStatsJSON: Encodable {
    var podmanCheckpointDuration: UInt64
    var containerStatistics: [Container]

    struct Container: Encodable {
        var id: String
        var name: String
        var runtimeCheckpointDuration: UInt64
        var criuStatistics: CheckpointCRIUStatistics?
        enum CodingKeys: String, CodingKey {
            case id = "Id", name = "Name", runtimeCheckpointDuration = "runtime_checkpoint_duration", criuStatistics = "criu_statistics"
        }
    }

    enum CodingKeys: String, CodingKey {
        case podmanCheckpointDuration = "podman_checkpoint_duration", containerStatistics = "container_statistics"
    }
}

extension CompressionMethod: ExpressibleByArgument {}

func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buffer, buffer.count) != nil else { return path }
    let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return cwd == "/" ? "/" + path : cwd + "/" + path
}

/// Byte-count progress on stderr (the caller shows it only when stderr is a TTY): at most ten
/// updates a second, the rate counted from the first byte written.
enum Progress {
    struct State {
        var start: ContinuousClock.Instant?
        var lastPrint: ContinuousClock.Instant?
    }

    static func reporter(label: String) -> @Sendable (UInt64) -> Void {
        let state = Mutex(State())
        return { bytes in
            let now = ContinuousClock.now
            let start: ContinuousClock.Instant? = state.withLock { state in
                let start = state.start ?? now
                state.start = start
                if let last = state.lastPrint, now - last < .milliseconds(100) { return nil }
                state.lastPrint = now
                return start
            }
            guard let start else { return }
            let elapsed = now - start
            let seconds = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 0.001)
            let mib = Double(bytes) / 1_048_576
            let line = "\r\(label): \(formatted(mib)) MiB (\(formatted(mib / seconds)) MiB/s)   "
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
    }

    static func finishLine() { _ = write(2, "\n", 1) }

    static func formatted(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
