import ArgumentParser
import CrpodService
import CrpodEngine

struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop containers: SIGTERM, then SIGKILL after the timeout.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("t"), .long], help: "Seconds to wait before SIGKILL.") var time: Double = 10
    @Argument(help: "Container names or ids.") var containers: [String]

    func validate() throws {
        if containers.isEmpty { throw ValidationError("name at least one container") }
        if time < 0 { throw ValidationError("--time must not be negative") }
    }

    func run() async throws {
        let client = try global.client()
        for container in containers { print(try await client.stop(container, timeout: time).name) }
    }
}
