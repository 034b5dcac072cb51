import ArgumentParser
import CrpodService
import CrpodCore
import CrpodEngine

struct PodCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a pod and start its infra process; prints the pod id."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Namespaces members share: \(ShareList.allowed.joined(separator: ",")) (or none).", valueName: "list"))
    var share: String = ShareList.podDefault.joined(separator: ",")
    @Option(name: .customLong("cgroup-parent"), help: ArgumentHelp("Cgroup under which the pod's cgroup is made (default /crpod).", valueName: "path"))
    var cgroupParent: String?
    @Option(help: ArgumentHelp("Hostname of the pod's UTS namespace (default: the pod name).", valueName: "name"))
    var hostname: String?
    @Argument(help: "Pod name.") var name: String

    func run() async throws {
        let shares = try ShareList.parse(share)
        let request = PodCreateRequest(name: name, shares: shares, cgroupParent: cgroupParent, hostname: hostname)
        let pod = try await global.client().createPod(request)
        print(pod.id)
    }
}
