import ArgumentParser
import CrpodEngine
import CrpodService

struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers (running ones unless -a).", aliases: ["list"])

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Show all containers, not only running ones.") var all = false
    @Flag(name: .shortAndLong, help: "Print only container ids.") var quiet = false
    @Option(help: "table or json") var format: OutputFormat = .table

    func run() async throws {
        let containers = try await global.client().listContainers(all: all)
        if quiet { return containers.forEach { print($0.id) } }
        if format == .json { return try Output.json(containers) }
        Output.table(["CONTAINER ID", "NAME", "POD", "STATUS", "PID", "COMMAND", "CREATED"], containers.map { container in
            [String(container.id.prefix(12)), container.name, container.podName ?? "-", container.state,
             container.pid.map(String.init) ?? "-", container.command.joined(separator: " "), container.created]
        })
    }
}
