import ArgumentParser
import CrpodService
import CrpodEngine

struct RmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove containers (running ones only with -f).", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Kill running containers first.") var force = false
    @Argument(help: "Container names or ids.") var containers: [String]

    func validate() throws {
        if containers.isEmpty { throw ValidationError("name at least one container") }
    }

    func run() async throws {
        let client = try global.client()
        for container in containers { print(try await client.removeContainer(container, force: force).id) }
    }
}
