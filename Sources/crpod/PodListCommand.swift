import ArgumentParser
import CrpodEngine
import CrpodService

struct PodListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List pods.", aliases: ["list", "ps"])

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Print only pod ids.") var quiet = false
    @Option(help: "table or json") var format: OutputFormat = .table

    func run() async throws {
        let pods = try await global.client().listPods()
        if quiet { return pods.forEach { print($0.id) } }
        if format == .json { return try Output.json(pods) }
        Output.table(["POD ID", "NAME", "STATUS", "SHARES", "INFRA PID", "# OF CONTAINERS", "CREATED"], pods.map { pod in
            [String(pod.id.prefix(12)), pod.name, pod.status, pod.shares.joined(separator: ","),
             pod.infraPid.map { "\($0)" } ?? "-", "\(pod.containers.count)", pod.created]
        })
    }
}
