import ArgumentParser
import CrpodCore
import CrpodEngine
import CrpodLinux
import CrpodService
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command in a new detached container (in a pod with --pod); prints its id.",
        discussion: """
            The base is --rootfs DIR or --image IMAGE (a name or ID of the local image store, crpod image import); it is mounted read-only as the lower layer of an overlay; changes go to a per-container upper directory. Output goes to the container's log (crpod logs).

            Syscalls are filtered by crpod's default seccomp profile (containers-common's, as podman uses: unlisted syscalls fail with ENOSYS, dangerous ones with EPERM, capability-gated ones follow the container's capabilities). --security-opt seccomp=unconfined runs without a filter; --security-opt seccomp=FILE applies that profile (OCI linux.seccomp or docker/containers-common form) instead. A checkpoint keeps the filter: CRIU restores it with the process.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Container name.") var name: String
    @Option(help: ArgumentHelp("Pod (name or id) whose namespaces and cgroup the container joins.", valueName: "pod"))
    var pod: String?
    @Option(help: ArgumentHelp("Root filesystem directory.", valueName: "dir")) var rootfs: String?
    @Option(help: ArgumentHelp("Image of the local store whose unpacked tree is the rootfs (instead of --rootfs).", valueName: "image")) var image: String?
    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Environment variable KEY=VALUE (repeatable).", valueName: "KEY=VALUE"))
    var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: ArgumentHelp("Working directory inside the container.", valueName: "dir"))
    var workdir: String = "/"
    @Option(name: .customLong("security-opt"), help: ArgumentHelp(
        "seccomp=unconfined (no syscall filter) or seccomp=FILE (that profile instead of the default).",
        valueName: "seccomp=unconfined|FILE"))
    var securityOptions: [String] = []
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments.") var command: [String] = []

    func run() async throws {
        var args = command
        if args.first == "--" { args.removeFirst() }
        let seccomp = try Self.seccompChoice(securityOptions)
        guard (rootfs == nil) != (image == nil) else { throw ValidationError("give exactly one of --rootfs DIR and --image IMAGE") }
        let request = RunRequest(name: name, pod: pod, rootfs: rootfs.map(absolutePath) ?? "", env: env, workdir: workdir, command: args,
                                 seccomp: seccomp, image: image)
        print(try await global.client().run(request).id)
    }

    /// podman's `--security-opt seccomp=...`; a profile file is read and validated here, so
    /// its faults name the file, and its JSON travels to a remote daemon too.
    static func seccompChoice(_ options: [String]) throws -> SeccompChoice? {
        var choice: SeccompChoice?
        for option in options {
            guard option.hasPrefix("seccomp="), choice == nil else {
                throw ValidationError(choice == nil
                    ? "unsupported --security-opt \(option) (supported: seccomp=unconfined, seccomp=FILE)"
                    : "--security-opt seccomp= given more than once")
            }
            let value = String(option.dropFirst("seccomp=".count))
            choice = value == SeccompChoice.unconfinedName ? .unconfined : try profile(at: value)
        }
        return choice
    }

    static func profile(at path: String) throws -> SeccompChoice {
        let what = "seccomp profile \(path)"
        guard !path.isEmpty else { throw EngineError.invalidInput(what: "--security-opt", detail: "seccomp= needs unconfined or a FILE") }
        let json: JSONValue
        do {
            json = try JSONValue.parse(Data(try Files.read(path, limit: 4 << 20)), context: path)
            _ = try SeccompProfile.parse(json, source: path)
        } catch let CoreError.invalidSeccompProfile(_, problems) {
            throw EngineError.invalidInput(what: what, detail: problems.joined(separator: "; "))
        } catch {
            throw EngineError.invalidInput(what: what, detail: "\(error)")
        }
        return .profile(json, source: path)
    }
}
