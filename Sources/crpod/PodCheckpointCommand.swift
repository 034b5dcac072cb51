import ArgumentParser
import CrpodArchive
import CrpodEngine
#if canImport(Glibc)
import Glibc
#endif

struct PodCheckpointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint every container of a pod at one consistent cut into one archive.",
        discussion: """
        The pod's cgroup is frozen first, so every member stops at the same instant; each member is then dumped by crpod's native engine (CRIU, whatever engine started it) while it stays frozen, and the archive is written. Without --leave-running the members are then killed (before they run again) and become exited; with it they are thawed and carry on. Any failure before that thaws them: the pod runs on and no archive appears. The archive holds pod.json (shares, hostname, network, address, MAC, published ports, member order), network.status (podman's shape) and each member in the single-container layout under members/NAME/, with one manifest over all (crpod archive inspect shows it).
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Write the pod archive to this file.", valueName: "file"))
    var export: String
    @Option(help: ArgumentHelp("Archive compression: zstd (default), gzip or none.", valueName: "method"))
    var compress: CompressionMethod?
    @Flag(name: [.customShort("R"), .customLong("leave-running")], help: "Leave the pod's containers running after the checkpoint.")
    var leaveRunning = false
    @Flag(name: .customLong("tcp-established"), help: "Checkpoint established TCP connections.") var tcpEstablished = false
    @Flag(name: .customLong("file-locks"), help: "Checkpoint file locks.") var fileLocks = false
    @Flag(name: .customLong("ignore-rootfs"), help: "Leave the members' rootfs changes out of the archive.") var ignoreRootfs = false
    @Flag(name: .customLong("print-stats"), help: "Print the outcome as JSON (each member's statistics, the frozen time in µs).") var printStats = false
    @Argument(help: "Pod name or id.") var pod: String

    func run() async throws {
        var request = PodCheckpointRequest(export: absolutePath(export), compression: compress)
        request.leaveRunning = leaveRunning
        request.tcpEstablished = tcpEstablished
        request.fileLocks = fileLocks
        request.ignoreRootfs = ignoreRootfs
        if !printStats && isatty(1) == 1 { request.progress = Progress.reporter(label: "export") }
        let outcome = try await global.client().checkpointPod(pod, request)
        if isatty(1) == 1 && request.progress != nil { Progress.finishLine() }
        guard printStats else { return print(outcome.podID) }
        try Output.json(outcome)
    }
}
