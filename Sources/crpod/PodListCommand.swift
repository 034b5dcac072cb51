import ArgumentParser
import CrpodEngine

struct PodListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List pods.", aliases: ["list", "ps"])

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Print only pod ids.") var quiet = false
    @Option(help: "table or json") var format: OutputFormat = .table

    func run() async throws {
        let pods = try global.engine().listPods()
        if quiet { return pods.forEach { print($0.record.id) } }
        if format == .json { return try Output.json(pods.map(PodSummary.init)) }
        Output.table(["POD ID", "NAME", "STATUS", "SHARES", "INFRA PID", "# OF CONTAINERS", "CREATED"], pods.map { pod in
            [String(pod.record.id.prefix(12)), pod.record.name, pod.status, pod.record.shares.joined(separator: ","),
             pod.record.infra.map { "\($0.pid)" } ?? "-", "\(pod.containers.count)", pod.record.created]
        })
    }
}

/// The JSON shape of `pod ls` and `pod inspect`.
struct PodSummary: Encodable {
    var id: String
    var name: String
    var status: String
    var shares: [String]
    var hostname: String?
    var infraPid: Int32?
    var cgroupParent: String
    var cgroupPath: String
    var namespaces: [NamespaceSummary]
    var processLabel: String?
    var mountLabel: String?
    var containers: [String]
    var created: String

    init(_ view: PodView) {
        let pod = view.record
        id = pod.id
        name = pod.name
        status = view.status
        shares = pod.shares
        hostname = pod.hostname
        infraPid = pod.infra?.pid
        cgroupParent = pod.cgroupParent
        cgroupPath = pod.cgroupPath
        namespaces = pod.namespaces.map { NamespaceSummary(type: $0.kind.rawValue, path: $0.path, inode: $0.inode, shared: pod.shares.contains($0.kind.rawValue)) }
        processLabel = pod.processLabel
        mountLabel = pod.mountLabel
        containers = view.containers
        created = pod.created
    }
}

struct NamespaceSummary: Encodable {
    var type: String
    var path: String
    var inode: UInt64
    var shared: Bool?
}
