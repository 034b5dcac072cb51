import ArgumentParser
import CrpodService
import CrpodCore
import CrpodDrivers
import CrpodEngine

struct PodCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a pod and start its infra process; prints the pod id."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Namespaces members share: \(ShareList.allowed.joined(separator: ",")) (or none); ipc also shares the pod's /dev/shm.", valueName: "list"))
    var share: String = ShareList.podDefault.joined(separator: ",")
    @Option(name: .customLong("cgroup-parent"), help: ArgumentHelp("Cgroup under which the pod's cgroup is made (default /crpod).", valueName: "path"))
    var cgroupParent: String?
    @Option(help: ArgumentHelp("Hostname of the pod's UTS namespace (default: the pod name).", valueName: "name"))
    var hostname: String?
    @Option(help: ArgumentHelp("""
        Network: a CNI network name (a configuration in --cni-config-dir), bridge (the default network), none \
        (only lo) or host (the host's network namespace). Default: \(Engine.defaultNetworkName) when that network \
        is configured and net is shared, else none.
        """, valueName: "name"))
    var network: String?
    @Option(help: ArgumentHelp("Static IP address on the CNI network (needs the ips capability, e.g. host-local).", valueName: "address"))
    var ip: String?
    @Option(name: [.customShort("p"), .customLong("publish")],
            help: ArgumentHelp("Publish a port through portmap: HOSTPORT:PORT[/tcp|udp] (repeatable).", valueName: "ports"))
    var publish: [String] = []
    @Option(name: .customLong("shm-size"), help: ArgumentHelp("Size of the pod's /dev/shm (with ipc shared): a number with b, k, m or g (default 64m).", valueName: "size"))
    var shmSize: String?
    @Argument(help: "Pod name.") var name: String

    func run() async throws {
        let shares = try ShareList.parse(share)
        let ports = try publish.map { text in
            guard let mapping = CNIPortMapping.parse(text) else {
                throw ValidationError("--publish \(text): expected HOSTPORT:PORT[/tcp|udp] with ports 1-65535")
            }
            return mapping
        }
        var request = PodCreateRequest(name: name, shares: shares, cgroupParent: cgroupParent, hostname: hostname,
                                       network: network, staticIP: ip, publish: ports)
        if let shmSize {
            guard let bytes = ByteSize.parse(shmSize) else { throw ValidationError("--shm-size \(shmSize): expected a number with an optional unit b, k, m or g (64m)") }
            request.shmSize = bytes
        }
        let pod = try await global.client().createPod(request)
        print(pod.id)
    }
}
