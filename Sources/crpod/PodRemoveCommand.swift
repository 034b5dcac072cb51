import ArgumentParser
import CrpodService
import CrpodEngine

struct PodRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove pods (with -f, their containers too).", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Stop and remove the pod's containers first.") var force = false
    @Argument(help: "Pod names or ids.") var pods: [String]

    func validate() throws {
        if pods.isEmpty { throw ValidationError("name at least one pod") }
    }

    func run() async throws {
        let client = try global.client()
        for pod in pods { print(try await client.removePod(pod, force: force).id) }
    }
}
