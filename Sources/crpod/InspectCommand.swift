import ArgumentParser
import CrpodService
import CrpodEngine

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show a container: state, pid, pod, namespaces, cgroup, bundle.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "table or json") var format: OutputFormat = .table
    @Argument(help: "Container name or id.") var container: String

    func run() async throws {
        let summary = try await global.client().inspectContainer(container)
        if format == .json { return try Output.json(summary) }
        print("ID:       \(summary.id)")
        print("Name:     \(summary.name)")
        print("State:    \(summary.state)")
        print("PID:      \(summary.pid.map(String.init) ?? "-")")
        print("Pod:      \(summary.podName.map { "\($0) (\(summary.pod ?? ""))" } ?? "-")")
        print("Command:  \(summary.command.joined(separator: " "))")
        print("Rootfs:   \(summary.rootfs)")
        print("Bundle:   \(summary.bundle)")
        print("Cgroup:   \(summary.cgroupPath)")
        print("Log:      \(summary.logPath)")
        print("Created:  \(summary.created)")
        if !summary.namespaces.isEmpty { print("Namespaces:") }
        for ns in summary.namespaces {
            print("  \(ns.type.padding(toLength: 7)) \(ns.inode)")
        }
    }
}
