import ArgumentParser
import CrpodService
import CrpodCore
import CrpodEngine

struct PodInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show a pod: shares, network, infra, namespaces, cgroup, labels.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "table or json") var format: OutputFormat = .table
    @Flag(help: "Run the network's CNI CHECK first: fail when a plugin finds the pod's network not as ADD left it.")
    var check = false
    @Argument(help: "Pod name or id.") var pod: String

    func run() async throws {
        let client = try global.client()
        let summary = try await check ? client.checkPodNetwork(pod) : client.inspectPod(pod)
        if format == .json { return try Output.json(summary) }
        print("ID:            \(summary.id)")
        print("Name:          \(summary.name)")
        print("Status:        \(summary.status)")
        print("Shares:        \(summary.shares.isEmpty ? "none" : summary.shares.joined(separator: ","))")
        print("Hostname:      \(summary.hostname ?? "-")")
        print("Infra PID:     \(summary.infraPid.map(String.init) ?? "-")")
        print("Cgroup:        \(summary.cgroupPath)")
        print("Process label: \(summary.processLabel ?? "- (SELinux off)")")
        print("Mount label:   \(summary.mountLabel ?? "- (SELinux off)")")
        print("Shm:           \(summary.shmDirectory.map { "\($0) (\(summary.shmSize.map(ByteSize.format) ?? "?"))" } ?? "- (IPC not shared: members have their own /dev/shm)")")
        print("Created:       \(summary.created)")
        print("Containers:    \(summary.containers.isEmpty ? "none" : summary.containers.joined(separator: ", "))")
        printNetwork(summary)
        print("Namespaces:")
        for ns in summary.namespaces {
            print("  \(ns.type.padding(toLength: 7)) \(String(ns.inode).padding(toLength: 11)) \(ns.path)\(ns.shared == true ? "  (shared)" : "")")
        }
    }

    private func printNetwork(_ summary: PodSummary) {
        print("Network:       \(summary.network ?? "none")")
        for (index, interface) in (summary.interfaces ?? []).enumerated() {
            let addresses = (summary.ips ?? []).filter { $0.interface == nil || $0.interface == index }.map(\.address)
            print("  \(interface.name): MAC \(interface.mac ?? "-"), IP \(addresses.isEmpty ? "-" : addresses.joined(separator: ", "))")
        }
        if summary.interfaces?.isEmpty ?? true, let ips = summary.ips, !ips.isEmpty {
            print("  IP:          \(ips.map(\.address).joined(separator: ", "))")
        }
        if let gateway = summary.ips?.compactMap(\.gateway).first { print("  Gateway:     \(gateway)") }
        let ports = summary.publishedPorts ?? []
        print("Published:     \(ports.isEmpty ? "none" : ports.map(\.description).joined(separator: ", "))")
    }
}
