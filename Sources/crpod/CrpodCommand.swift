import ArgumentParser
import CrpodRegistry
import CrpodService

@main
struct Crpod: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crpod",
        abstract: "Checkpoint containers out of pods and restore them into pods, with runc and CRIU.",
        discussion: """
        State lives under --root (default /var/lib/crpod, or CRPOD_ROOT) and --run-root (default /run/crpod, or CRPOD_RUNROOT). CRIU is found by --criu, then the config file (/etc/crpod/crpod.conf or CRPOD_CONFIG), then PATH. --engine (env CRPOD_ENGINE, config key engine) says who runs CRIU: auto (crpod itself when CRIU >= 3.19, else runc), native or runc.
        """ + (RegistryClient.isBuiltIn ? "" : "\n\n" + withoutRegistryNote),
        version: crpodVersion,
        subcommands: [
            CheckCommand.self, PodCommand.self, RunCommand.self, PsCommand.self, InspectCommand.self,
            LogsCommand.self, StopCommand.self, RmCommand.self, CheckpointCommand.self, RestoreCommand.self, ArchiveCommand.self, ImageCommand.self, LoginCommand.self, LogoutCommand.self, DaemonCommand.self, ManualCommand.self,
        ]
    )
}

struct PodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pod",
        abstract: "Manage pods: an infra process that owns shared namespaces and a cgroup.",
        subcommands: [PodCreateCommand.self, PodListCommand.self, PodInspectCommand.self, PodRemoveCommand.self,
                      PodCheckpointCommand.self, PodRestoreCommand.self]
    )
}

struct ArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Work with checkpoint archives (crpod's, podman's, CRI-O's).",
        subcommands: [ArchiveInspectCommand.self]
    )
}

/// The root --help's note in a build without the `Registry` trait.
let withoutRegistryNote = """
    This crpod was built without registry support (contrib/build-static.sh --without-registry): image pull, image push, login and restore --image of an image not in the store refuse (with --remote, a daemon built with it still pulls). image import, run --image, checkpoint --create-image and restore --image of a stored image work.
    """
