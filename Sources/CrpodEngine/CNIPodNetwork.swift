#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux

/// How a pod is networked. `none`: its own network namespace with only `lo`; `host`: no
/// network namespace of its own (members use the host's); `cni`: its own namespace attached
/// to a CNI network (the default `crpod` one when it is configured).
public enum PodNetworkMode: String, Codable, Sendable, Equatable {
    case none, host, cni
}

/// A pod's network as stored with the pod: for CNI, the attachment (config, container id,
/// capability arguments) that ADD ran with and DEL will run with, and ADD's result.
public struct PodNetwork: Codable, Sendable, Equatable {
    public var mode: PodNetworkMode
    public var attachment: CNIAttachment?
    public var result: CNIResult?
    /// ADD's result as the last plugin printed it: DEL's and CHECK's `prevResult`.
    public var rawResult: JSONValue?

    public init(mode: PodNetworkMode, attachment: CNIAttachment? = nil, result: CNIResult? = nil, rawResult: JSONValue? = nil) {
        self.mode = mode
        self.attachment = attachment
        self.result = result
        self.rawResult = rawResult
    }

    /// `none`, `host` or the CNI network's name.
    public var displayName: String { attachment?.network.name ?? mode.rawValue }
    public var publishedPorts: [CNIPortMapping] { attachment?.runtimeConfig.portMappings ?? [] }
}

/// What `pod create` will do about the network, decided before anything is created.
struct PodNetworkPlan: Sendable, Equatable {
    var mode: PodNetworkMode
    var network: CNINetworkConfigList?
    var runtimeConfig: CNIRuntimeConfig
    /// The shares to start the infra with (`host` drops `net`: the pod owns no netns).
    var shares: [String]
}

extension Engine {
    /// The name of the network provisioning writes and pods join by default.
    public static let defaultNetworkName = "crpod"

    /// Resolves `--network`, `--ip` and `--publish`. Without `--network` a pod that shares
    /// its network namespace joins the `crpod` CNI network when it is configured (as podman
    /// pods join `podman`), else keeps a lo-only namespace; `bridge` names that default too.
    func planNetwork(_ request: PodCreateRequest) throws -> PodNetworkPlan {
        let sharesNet = request.shares.contains(NamespaceKind.net.rawValue)
        var runtimeConfig = CNIRuntimeConfig(portMappings: request.publish, ips: request.staticIP.map { [$0] } ?? [])
        runtimeConfig.mac = request.staticMAC
        let invalid = { (detail: String) in EngineError.invalidInput(what: "network", detail: detail) }
        if let ip = request.staticIP, !Self.isIPAddress(ip) { throw EngineError.invalidInput(what: "--ip", detail: "\"\(ip)\" is not an IP address") }
        // podman's `--network bridge` means "the default network".
        var requested = request.network == "bridge" ? Self.defaultNetworkName : request.network
        if requested == nil {
            let configured = sharesNet && CNINetworkConfigList.exists(name: Self.defaultNetworkName, directory: settings.cniConfigDirectory)
            requested = configured ? Self.defaultNetworkName : PodNetworkMode.none.rawValue
        }
        let needsCNI = !runtimeConfig.portMappings.isEmpty || !runtimeConfig.ips.isEmpty || runtimeConfig.mac != nil
        switch requested ?? "" {
        case PodNetworkMode.none.rawValue, PodNetworkMode.host.rawValue:
            guard !needsCNI else {
                throw invalid("--ip and --publish need a CNI network (network \"\(requested ?? "")\"; is \(Self.defaultNetworkName) configured in \(settings.cniConfigDirectory)?)")
            }
            let mode = PodNetworkMode(rawValue: requested ?? "") ?? .none
            let shares = mode == .host ? request.shares.filter { $0 != NamespaceKind.net.rawValue } : request.shares
            return PodNetworkPlan(mode: mode, network: nil, runtimeConfig: runtimeConfig, shares: shares)
        case let name:
            guard sharesNet else { throw invalid("network \(name) needs the pod to share its network namespace (--share net)") }
            let network: CNINetworkConfigList
            do { network = try CNINetworkConfigList.load(name: name, directory: settings.cniConfigDirectory) } catch {
                throw invalid("\(error)")  // a name the request gave: the caller's to fix
            }
            if !runtimeConfig.portMappings.isEmpty && !network.declares("portMappings") {
                throw invalid("network \(name) has no plugin with the portMappings capability (portmap) for --publish")
            }
            if !runtimeConfig.ips.isEmpty && !network.declares("ips") {
                throw invalid("network \(name) has no plugin with the ips capability for --ip")
            }
            if runtimeConfig.mac != nil && !network.declares("mac") {
                throw invalid("network \(name) has no plugin with the mac capability for a static MAC")
            }
            return PodNetworkPlan(mode: .cni, network: network, runtimeConfig: runtimeConfig, shares: request.shares)
        }
    }

    static func isIPAddress(_ text: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
    }

    var cniDriver: CNIDriver {
        CNIDriver(pluginDirectories: settings.cniPluginDirectories, timeLimit: .seconds(60), runner: runner)
    }

    /// CNI ADD against the running infra's network namespace. DEL is journaled first (with
    /// the infra, to find its namespace), so a crash during or after ADD leaks nothing; after
    /// each plugin the journaled DEL gets the result so far (firewall's DEL needs the addresses).
    func attachNetwork(_ pod: inout PodRecord, plan: PodNetworkPlan, rollback: Rollback) async throws {
        guard plan.mode == .cni, let network = plan.network, let infra = pod.infra else {
            pod.network = PodNetwork(mode: plan.mode)
            return
        }
        let attachment = CNIAttachment(network: network, containerID: pod.id, netnsPath: NamespaceKind.net.procPath(pid: infra.pid),
                                       runtimeConfig: plan.runtimeConfig)
        var journaled = UndoStep.cniDelete(attachment, infra: infra, prevResult: nil)
        try rollback.add(journaled)
        let (result, raw) = try await step("CNI ADD to network \(network.name)") {
            try await cniDriver.add(attachment) { partial in
                let updated = UndoStep.cniDelete(attachment, infra: infra, prevResult: partial)
                try rollback.replace(journaled, with: updated)
                journaled = updated
                FaultPoint.podDuringNetwork.hit()
            }
        }
        FaultPoint.podAfterNetwork.hit()
        pod.network = PodNetwork(mode: .cni, attachment: attachment, result: result, rawResult: raw)
    }

    /// CNI DEL for a pod being removed, while its infra (and so its netns) still lives.
    func detachNetwork(_ pod: PodRecord) async {
        guard let network = pod.network, let attachment = network.attachment else { return }
        await deleteAttachment(attachment, infra: pod.infra, prevResult: network.rawResult)
    }

    /// DEL, best effort: with the infra's netns when the infra still lives, else with none
    /// (plugins then release what lives outside it: leases, host rules).
    func deleteAttachment(_ attachment: CNIAttachment, infra: ProcessIdentity?, prevResult: JSONValue?) async {
        var attachment = attachment
        if !(infra?.isAlive() ?? false) { attachment.netnsPath = "" }
        do { try await cniDriver.delete(attachment, prevResult: prevResult) } catch {
            logger.error("CNI DEL failed", metadata: ["pod": "\(attachment.containerID)", "error": "\(error)"])
        }
    }

    /// CNI CHECK of a pod's attachment (`pod inspect --check` later); throws what the plugins say.
    public func checkNetwork(_ reference: String) async throws {
        let pod = try store.pod(reference)
        guard let network = pod.network, let attachment = network.attachment, let raw = network.rawResult else { return }
        try await step("CNI CHECK of pod \(pod.name)") { try await cniDriver.check(attachment, prevResult: raw) }
    }

    /// `crpod check`'s line on pod networks: is the default network configured, and are the
    /// plugins it names (with its IPAM plugins) where CNI_PATH points? Not needed for restores.
    func networkFact() -> CheckFact {
        let name = Self.defaultNetworkName
        let directory = settings.cniConfigDirectory
        guard let network = try? CNINetworkConfigList.load(name: name, directory: directory) else {
            return CheckFact(name: "pod network", ok: true, detail: "no network \(name) in \(directory): pods get a lo-only network namespace "
                             + "(contrib/provision.sh writes one)", fix: nil, required: false)
        }
        let search = settings.cniPluginDirectories.joined(separator: ":")
        let types = network.plugins.flatMap { plugin in
            [plugin["type"]?.stringValue, plugin["ipam"]?.objectValue?["type"]?.stringValue].compactMap { $0 }
        }
        let missing = types.filter { ToolRunner.which($0, searchPath: search) == nil }
        let found = missing.isEmpty
        return CheckFact(
            name: "pod network", ok: found,
            detail: "\(name) (\(network.source)): " + (found ? "plugins \(types.joined(separator: ", ")) found in \(search)"
                                                       : "plugins \(missing.joined(separator: ", ")) not found in \(search)"),
            fix: found ? nil : "install containernetworking-plugins (contrib/provision.sh) or set cni_plugin_dir", required: false)
    }
}
