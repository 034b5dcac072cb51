import ArgumentParser
import CrpodService
import CrpodEngine

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command in a new detached container (in a pod with --pod); prints its id.",
        discussion: "The rootfs is mounted read-only as the lower layer of an overlay; changes go to a per-container upper directory. Output goes to the container's log (crpod logs)."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "Container name.") var name: String
    @Option(help: ArgumentHelp("Pod (name or id) whose namespaces and cgroup the container joins.", valueName: "pod"))
    var pod: String?
    @Option(help: ArgumentHelp("Root filesystem directory.", valueName: "dir")) var rootfs: String
    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Environment variable KEY=VALUE (repeatable).", valueName: "KEY=VALUE"))
    var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: ArgumentHelp("Working directory inside the container.", valueName: "dir"))
    var workdir: String = "/"
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments.") var command: [String] = []

    func run() async throws {
        var args = command
        if args.first == "--" { args.removeFirst() }
        let request = RunRequest(name: name, pod: pod, rootfs: rootfs, env: env, workdir: workdir, command: args)
        print(try await global.client().run(request).id)
    }
}
