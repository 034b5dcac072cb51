import ArgumentParser
import CrpodService
import CrpodEngine

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a checkpoint archive or checkpoint image (into a pod with --pod), or a container checkpointed in place.",
        discussion: """
        crpod restore --import FILE [--pod POD] [--name NAME] [--rootfs DIR] ...
        crpod restore --image REF [--tls-verify=false] [--cert-dir DIR] [--creds USER[:PASSWORD] | --authfile FILE] [--pod POD] [--name NAME] ...
        crpod restore NAME

        Every problem the restore plan finds is reported at once; nothing is changed then. The image rule: what CRIU restores from the checkpoint images (credentials, capability sets, no_new_privs, seccomp, mounts) may not exceed what the final spec gives a freshly started container; --trust-archive turns it off. The archive is only read. A failed restore leaves no runtime state, cgroup, mount, directory or record behind. A checkpoint holding established TCP connections (taken with --tcp-established) is refused without --tcp-established, before anything is created; with it, the connections' local addresses must be loopback or the target pod's. The base rootfs: --rootfs DIR, else the image the archive names (podman's and crpod's rootfsImageID/rootfsImageName) from the local image store (crpod image import), else the directory a crpod archive recorded.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("i"), .customLong("import")], help: ArgumentHelp("Checkpoint archive to restore.", valueName: "file"))
    var importPath: String?
    @Option(help: ArgumentHelp("Checkpoint image to restore (crpod checkpoint --create-image, podman's or CRI-O's): from the image store, else pulled (by the daemon with --remote).", valueName: "ref"))
    var image: String?
    @OptionGroup var registry: RegistryOptions
    @Option(help: ArgumentHelp("Pod (name, id or id prefix) to restore into.", valueName: "pod")) var pod: String?
    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("New name (and id), so an archive can be restored many times.", valueName: "name"))
    var name: String?
    @Option(help: ArgumentHelp("Base rootfs directory (default: the archive's image from the store).", valueName: "dir")) var rootfs: String?
    @Flag(name: .customLong("ignore-rootfs"), help: "Do not apply the archive's rootfs changes.") var ignoreRootfs = false
    @Flag(name: .customLong("tcp-established"), help: "Restore established TCP connections (an archive holding some is refused without it; each connection's address must be loopback or the pod's).") var tcpEstablished = false
    @Flag(name: .customLong("file-locks"), help: "Restore file locks.") var fileLocks = false
    @Flag(name: .customLong("allow-private-pid"), help: "Let a checkpoint with a private PID namespace into a pod that shares PID (it keeps a PID namespace of its own).")
    var allowPrivatePID = false
    @Flag(name: .customLong("trust-archive"), help: "Skip the image rule (podman's stance): restore whatever credentials, capabilities, seccomp and mounts the checkpoint images hold. Root CLI only; the daemon never accepts it.")
    var trustArchive = false
    @Flag(name: .customLong("print-stats"), help: "Print restore statistics as JSON (podman's keys).") var printStats = false
    @Flag(name: .shortAndLong, help: "Keep the extracted images and CRIU's logs.") var keep = false
    @Argument(help: "A container checkpointed in place (without --import).") var container: String?

    func run() async throws {
        let started = ContinuousClock.now
        var request = RestoreRequest(importPath: importPath.map(absolutePath), container: container)
        request.pod = pod
        request.name = name
        request.rootfs = rootfs.map(absolutePath)
        request.ignoreRootfs = ignoreRootfs
        request.tcpEstablished = tcpEstablished
        request.fileLocks = fileLocks
        request.allowPrivatePID = allowPrivatePID
        request.keep = keep
        request.trustArchive = trustArchive
        if trustArchive && global.remoteHost != nil {
            throw ValidationError("--trust-archive is for the root CLI only: the daemon always applies the image rule")
        }
        let outcome = try await restore(request)
        Output.notes(outcome.notes)
        guard printStats else { return print(outcome.id) }
        try Output.json(RestoreStatsJSON(
            podmanRestoreDuration: microseconds(since: started),
            containerStatistics: [.init(id: outcome.id, name: outcome.name, runtimeRestoreDuration: outcome.runtimeRestoreDuration,
                                        criuStatistics: outcome.criuStatistics)]))
    }
}

extension RestoreCommand {
    func restore(_ request: RestoreRequest) async throws -> RestoreOutcome {
        guard let image else { return try await global.client().restore(request) }
        if importPath != nil || container != nil { throw ValidationError("--image replaces --import and a container name") }
        let auth = try await registry.auth(remote: global.remoteHost != nil)
        return try await global.client().restoreImage(ImageRestoreCall(image: image, tlsVerify: registry.tlsVerify, auth: auth, request: request))
    }
}

/// podman's `--print-stats` shape for restore.
struct RestoreStatsJSON: Encodable {
    var podmanRestoreDuration: UInt64
    var containerStatistics: [Container]

    struct Container: Encodable {
        var id: String
        var name: String
        var runtimeRestoreDuration: UInt64
        var criuStatistics: RestoreCRIUStatistics?
        enum CodingKeys: String, CodingKey {
            case id = "Id", name = "Name", runtimeRestoreDuration = "runtime_restore_duration", criuStatistics = "criu_statistics"
        }
    }

    enum CodingKeys: String, CodingKey {
        case podmanRestoreDuration = "podman_restore_duration", containerStatistics = "container_statistics"
    }
}
