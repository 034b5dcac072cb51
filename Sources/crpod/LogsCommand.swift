import ArgumentParser
import CrpodService
import CrpodEngine
#if canImport(Glibc)
import Glibc
#endif

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a container's stdout and stderr.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container name or id.") var container: String

    func run() async throws {
        let bytes = try await global.client().logs(container)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { throw ExitCode(1) }
            offset += written
        }
    }
}
