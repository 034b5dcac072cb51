import ArgumentParser
import CrpodCore
import CrpodEngine
import CrpodLinux
import CrpodRegistry
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
            Images live under <root>/images: blobs by SHA-256, each layer stack unpacked once into rootfs/<key>, images.json naming them. Every blob is verified by digest and every layer by its diff ID before it is used; layers are unpacked by libarchive with the archive extraction's limits and checks (no path escapes, no writes through symlinks, no devices), OCI whiteouts applied. pull and push speak the OCI distribution API over HTTPS with Basic and Bearer token auth; the reference names its registry (host[:port]/path[:tag], crpod has no default registry); --tls-verify=false uses plain HTTP; a registry's certificate is verified against the system roots plus the CA certificates (*.crt) in /etc/containers/certs.d/HOST[:PORT]/ and /etc/docker/certs.d/HOST[:PORT]/, or in --cert-dir DIR instead (podman's convention; client certificates are not read); a registry on loopback (localhost, 127.0.0.0/8, [::1]) is reached by plain HTTP unless --tls-verify=true is given, as Docker treats 127.0.0.0/8. Credentials: --creds USER:PASSWORD (or --creds USER --password-stdin), else the registry's entry in the authfile (--authfile, else $REGISTRY_AUTH_FILE, else the config's registry_auth_file, else /run/containers/0/auth.json for root when it exists; crpod login writes it), else anonymous; a password is never printed. With --remote (CRPOD_HOST) import, pull, ls, inspect and rm go to the daemon's store (an import's file must lie under its api_dir); push works on this host's store only; through the daemon --creds/--authfile are refused (it uses its registry_auth_file). On a terminal, pull and push show a byte counter per blob on stderr.
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
        let auth = try await registry.auth(remote: global.remoteHost != nil)
        let record = try await global.client().pullImage(ImagePullCall(reference: reference, tlsVerify: registry.tlsVerify, auth: auth, progress: progress?.report))
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
        let engine = try localEngine(global)
        let auth = try await registry.auth(remote: false) ?? RegistryAuth()
        let digest = try await engine.pushImage(image, destination: destination, tlsVerify: registry.tlsVerify, auth: auth, progress: progress?.report)
        progress?.finish()
        print(digest)
    }
}

/// What pull, push and restore --image share.
struct RegistryOptions: ParsableArguments {
    @Option(name: .customLong("tls-verify"),
            help: "true: HTTPS with a verified certificate; false: plain HTTP. Default: HTTPS, but plain HTTP for a registry on loopback (localhost, 127.0.0.0/8, [::1]).")
    var tlsVerify: Bool?
    /// `--cert-dir` (login too).
    static let certDirHelp = ArgumentHelp(
        "Trust the registry's CA certificates (*.crt) in this directory, besides the system's, instead of /etc/containers/certs.d/HOST[:PORT]/ and /etc/docker/certs.d/HOST[:PORT]/.",
        valueName: "dir")
    @Option(name: .customLong("cert-dir"), help: certDirHelp) var certDir: String?
    @OptionGroup var credentials: CredentialOptions

    /// What the engine gets: credentials and --cert-dir; nil when neither is given (through the
    /// daemon: always, as it reads its own authfile and certs.d).
    func auth(remote: Bool) async throws -> RegistryAuth? {
        let auth = try await credentials.auth(remote: remote)
        guard let certDir else { return auth }
        if remote { throw ValidationError("--cert-dir works on this host; through --remote/CRPOD_HOST the daemon reads /etc/containers/certs.d") }
        var withTrust = auth ?? RegistryAuth()
        withTrust.certDir = absolutePath(certDir)
        return withTrust
    }
}

/// `--creds`, `--password-stdin`, `--authfile` (pull, push, restore --image; login has its own).
struct CredentialOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Registry credentials (the password after the first colon; without it, --password-stdin).", valueName: "user[:password]"))
    var creds: String?
    @Flag(name: .customLong("password-stdin"), help: "Read the --creds password from stdin (the whole input, trailing newline dropped).")
    var passwordStdin = false
    @Option(help: ArgumentHelp("containers-auth.json to take credentials from (default: $REGISTRY_AUTH_FILE, else registry_auth_file, else /run/containers/0/auth.json when it exists).", valueName: "file"))
    var authfile: String?

    /// What the engine gets; nil through the daemon, which uses its own authfile (registry_auth_file).
    func auth(remote: Bool) async throws -> RegistryAuth? {
        if passwordStdin && creds == nil { throw ValidationError("--password-stdin reads the password of --creds USER") }
        if creds != nil && authfile != nil { throw ValidationError("give --creds or --authfile, not both") }
        guard creds != nil || authfile != nil else { return nil }
        if remote {
            throw ValidationError("--creds and --authfile work on this host; through --remote/CRPOD_HOST the daemon uses its own registry_auth_file")
        }
        let password = passwordStdin ? try await readPasswordFromStdin() : nil
        return RegistryAuth(credentials: try creds.map { try RegistryCredentials.parse($0, password: password) }, authFile: authfile.map(absolutePath))
    }
}

/// stdin up to EOF (at most 64 KiB) without its trailing newline, read on a thread of its own.
func readPasswordFromStdin() async throws -> String {
    let bytes = try await BlockingThread.run("read password from stdin") { _ in try Files.read("/dev/stdin", limit: 64 << 10) }
    var text = String(decoding: bytes, as: UTF8.self)
    while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
    return text
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
