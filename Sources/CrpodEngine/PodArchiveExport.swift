#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodArchive
import CrpodCore
import CrpodDrivers
import CrpodLinux

extension Engine {
    /// The whole-pod archive (see `PodArchiveMember`): `pod.json`, each member's files under
    /// `members/<name>/` in the single-container layout, one manifest over all, last. The pod's
    /// /dev/shm (`devShmTar`, taken at the cut) is written once, at the top, as podman names it.
    func exportPodArchive(_ pod: PodRecord, members: [PodCheckpointMember], paths: [CheckpointPaths], request: CheckpointRequest,
                          devShmTar: String?) async throws {
        guard let destination = request.export else { return }
        var exported: [(String, ExportedMember)] = []
        for (member, memberPaths) in zip(members, paths) {
            let directory = PodArchiveMember.directory(ofMember: member.record.name)
            exported.append((directory, try await exportMember(member.record, paths: memberPaths, ignoreRootfs: request.ignoreRootfs, withDevShm: false)))
        }
        let description = podArchiveDescription(pod, members: members.map(\.record))
        let bytes = try step("encode \(PodArchiveMember.description)") { Array(try description.data()) }
        let status = try step("encode \(CheckpointMember.networkStatus)") { Array(try podNetworkStatus(pod).data()) }
        try await writeArchive(to: destination, request: request) { [exported] writer in
            try writer.addBytes(bytes, as: PodArchiveMember.description)
            try writer.addBytes(status, as: CheckpointMember.networkStatus)
            if let devShmTar { try writer.addFile(at: devShmTar, as: CheckpointMember.devShm) }
            for (directory, member) in exported { try addMember(writer, member, prefix: directory) }
        }
    }

    /// What `pod.json` says of `pod`: enough to create it again (shares, hostname, network,
    /// address, MAC, published ports) and its members in restore order.
    func podArchiveDescription(_ pod: PodRecord, members: [ContainerRecord]) -> PodArchiveDescription {
        let network = pod.network
        let interfaces = network?.result?.interfaces ?? []
        let sandboxed = interfaces.first { $0.sandbox != nil && $0.mac != nil }
        let ports = (network?.publishedPorts ?? []).map {
            PodArchiveDescription.Port(hostPort: $0.hostPort, containerPort: $0.containerPort, protocol: $0.protocol.rawValue, hostIP: $0.hostIP)
        }
        let described = PodArchiveDescription.Network(
            mode: (network?.mode ?? .none).rawValue, name: network?.attachment?.network.name,
            addresses: (network?.result?.ips ?? []).map(\.address), mac: sandboxed?.mac, published: ports)
        var description = PodArchiveDescription(
            name: pod.name, id: pod.id, shares: pod.shares, hostname: pod.hostname, network: described,
            members: members.map { .init(name: $0.name, id: $0.id) }, checkpointedAt: timestamp())
        description.shmSize = pod.shmDirectory == nil ? nil : pod.shmSize
        return description
    }

    /// The pod's `network.status` in podman's shape: its CNI network, each interface inside the
    /// pod with its MAC and the addresses CNI gave it; `null` without a CNI network.
    func podNetworkStatus(_ pod: PodRecord) -> NetworkStatus {
        guard let network = pod.network, let name = network.attachment?.network.name, let result = network.result else { return NetworkStatus() }
        var interfaces: [String: NetworkStatus.Interface] = [:]
        for (index, interface) in (result.interfaces ?? []).enumerated() where interface.sandbox != nil {
            let subnets = (result.ips ?? []).filter { $0.interface == index }.map { NetworkStatus.Subnet(ipnet: $0.address, gateway: $0.gateway) }
            interfaces[interface.name] = NetworkStatus.Interface(subnets: subnets, macAddress: interface.mac)
        }
        return NetworkStatus(networks: [name: NetworkStatus.Network(interfaces: interfaces)])
    }
}
