import ArgumentParser
import CrpodEngine

struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers (running ones unless -a).", aliases: ["list"])

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Show all containers, not only running ones.") var all = false
    @Flag(name: .shortAndLong, help: "Print only container ids.") var quiet = false
    @Option(help: "table or json") var format: OutputFormat = .table

    func run() async throws {
        let containers = try await global.engine().listContainers(all: all)
        if quiet { return containers.forEach { print($0.record.id) } }
        if format == .json { return try Output.json(containers.map(ContainerSummary.init)) }
        Output.table(["CONTAINER ID", "NAME", "POD", "STATUS", "PID", "COMMAND", "CREATED"], containers.map { view in
            [String(view.record.id.prefix(12)), view.record.name, view.record.podName ?? "-", view.status,
             view.pid.map(String.init) ?? "-", view.record.command.joined(separator: " "), view.record.created]
        })
    }
}

/// The JSON shape of `ps` and `inspect`.
struct ContainerSummary: Encodable {
    var id: String
    var name: String
    var state: String
    var pid: Int32?
    var pod: String?
    var podName: String?
    var command: [String]
    var rootfs: String
    var bundle: String
    var cgroupPath: String
    var logPath: String
    var namespaces: [NamespaceSummary]
    var created: String

    init(_ view: ContainerView) {
        let record = view.record
        id = record.id
        name = record.name
        state = view.status
        pid = view.pid
        pod = record.podID
        podName = record.podName
        command = record.command
        rootfs = record.rootfs
        bundle = record.bundle
        cgroupPath = record.cgroupPath
        logPath = record.logPath
        namespaces = view.namespaces.map { NamespaceSummary(type: $0.kind.rawValue, path: $0.path, inode: $0.inode, shared: nil) }
        created = record.created
    }
}
