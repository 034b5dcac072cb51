import ArgumentParser
import CrpodCore
import CrpodEngine
import CrpodService
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Manage the local image store (rootfs trees for run --image and restore).",
        discussion: """
            Images live under <root>/images: blobs by SHA-256, each layer stack unpacked once into rootfs/<key>, images.json naming them. Every blob is verified by digest and every layer by its diff ID before it is used; layers are unpacked by libarchive with the archive extraction's limits and checks (no path escapes, no writes through symlinks, no devices), OCI whiteouts applied. pull and push speak the OCI distribution API over HTTPS with anonymous token auth; the reference names its registry (host[:port]/path[:tag], crpod has no default registry); --tls-verify=false uses plain HTTP (a local registry). With --remote (CRPOD_HOST) import, pull, ls, inspect and rm go to the daemon's store (an import's file must lie under its api_dir); push works on this host's store only. On a terminal, pull and push show a byte counter per blob on stderr.
            """,
        subcommands: [ImageImportCommand.self, ImagePullCommand.self, ImagePushCommand.self, ImageListCommand.self, ImageInspectCommand.self, ImageRemoveCommand.self]
    )
}

/// push uses the engine in this process: the store is local.
func localEngine(_ global: GlobalOptions) throws -> Engine {
    guard global.remoteHost == nil else { throw ValidationError("crpod image push works on the local store; it does not go through --remote/CRPOD_HOST") }
    return try global.engine()
}

struct ImageImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an OCI image layout (directory or tar) or a docker save / podman save archive; prints the image ID.",
        discussion: "Sources: `skopeo copy … oci:DIR[:TAG]` output, `podman save --format oci-archive`, `docker save` and `podman save` (docker-archive, the default). Members that are symbolic links (podman writes each layer once and links <id>/layer.tar to it) are followed inside the archive only: relative targets that stay inside, at most 8 links; others are refused. The image is named by --name, else by the archive's own names (RepoTags, or an OCI ref.name that is a full reference); an image without a name is reached by its ID."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Name the image (name[:tag]); picks it when the source holds several.", valueName: "ref")) var name: String?
    @Argument(help: ArgumentHelp("OCI layout directory or archive file.", valueName: "FILE|DIR")) var source: String

    func run() async throws {
        let record = try await global.client().importImage(ImageImportCall(path: absolutePath(source), name: name))
        print(record.id.hex)
    }
}

struct ImageListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Print only image IDs.") var quiet = false
    @Option(help: "table or json") var format: OutputFormat = .table

    func run() async throws {
        let images = try await global.client().listImages()
        if quiet { return images.forEach { print($0.id.hex) } }
        if format == .json { return try Output.json(images) }
        Output.table(["IMAGE ID", "NAMES", "LAYERS", "SIZE", "IMPORTED", "CHECKPOINT OF"], images.map { image in
            [image.id.short, image.names.isEmpty ? "<none>" : image.names.joined(separator: ","), "\(image.layers.count)", "\(image.size)", image.imported,
             image.checkpointName ?? "-"]
        })
    }
}

struct ImageInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show an image's record (JSON), with the path of its unpacked tree (none for a checkpoint image, whose annotations name its container).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Image name or ID.", valueName: "IMAGE")) var reference: String

    func run() async throws {
        try Output.json(try await global.client().inspectImage(reference))
    }
}

struct ImageRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove images no container uses.", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Image names or IDs.", valueName: "IMAGE")) var references: [String]

    func run() async throws {
        let client = try global.client()
        for reference in references { print(try await client.removeImage(reference).id.hex) }
    }
}

struct ImagePullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Pull an image from a registry into the store; prints the image ID.",
        discussion: "The manifest for this host's platform (from an index when the tag names one), its config and layers are each verified by digest as they arrive, then imported like an OCI layout.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryOptions
    @Argument(help: ArgumentHelp("host[:port]/path[:tag|@digest]", valueName: "REF")) var reference: String

    func run() async throws {
        let progress = global.remoteHost == nil && isatty(2) == 1 ? BlobCounter(verb: "pull") : nil
        let record = try await global.client().pullImage(ImagePullCall(reference: reference, tlsVerify: registry.tlsVerify, progress: progress?.report))
        progress?.finish()
        print(record.id.hex)
    }
}

struct ImagePushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Push a stored image to a registry; prints the manifest digest.",
        discussion: "Blobs the registry lacks are uploaded, then the stored manifest under DESTINATION's tag (DESTINATION defaults to IMAGE).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryOptions
    @Argument(help: ArgumentHelp("Stored image (name or ID).", valueName: "IMAGE")) var image: String
    @Argument(help: ArgumentHelp("host[:port]/path[:tag] to push to.", valueName: "DESTINATION")) var destination: String?

    func run() async throws {
        let progress = isatty(2) == 1 ? BlobCounter(verb: "push") : nil
        let digest = try await localEngine(global).pushImage(image, destination: destination, tlsVerify: registry.tlsVerify, progress: progress?.report)
        progress?.finish()
        print(digest)
    }
}

/// What pull and push share.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("tls-verify"), help: "false: plain HTTP, for a registry without TLS.") var tlsVerify = true
}

/// A byte counter per blob on stderr (the caller makes one only when stderr is a TTY): each
/// blob gets its own line, `pull 0123456789ab: 1.5 MiB (3.0 MiB/s)`.
final class BlobCounter: Sendable {
    let verb: String
    private let current = Mutex<(blob: ImageDigest, report: @Sendable (UInt64) -> Void)?>(nil)

    init(verb: String) { self.verb = verb }

    var report: BlobProgress {
        { [self] blob, bytes in
            let report = current.withLock { current in
                if let current, current.blob == blob { return current.report }
                if current != nil { Progress.finishLine() }
                let report = Progress.reporter(label: "\(verb) \(blob.short)")
                current = (blob, report)
                return report
            }
            report(bytes)
        }
    }

    /// Ends the last blob's line.
    func finish() {
        if current.withLock({ $0 != nil }) { Progress.finishLine() }
    }
}
