#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import CrpodCore

enum CheckpointFixtures {
    static let containerID = "3f1c9d0e5b7a4c2e8f6d1a0b9c8e7d6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d"
    static let infraID = "9a8b7c6d5e4f3a2b1c0d3f1c9d0e5b7a4c2e8f6d1a0b9c8e7d6f5a4b3c2d1e0f"
    static let podID = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

    /// A pod member's `config.dump` as podman 4.3.1 writes it (trimmed spec; every other
    /// key podman writes for such a container, including ones crpod does not model).
    static let podmanConfigDump = #"""
    {
      "spec": {"ociVersion": "1.0.2-dev", "process": {"args": ["sleep", "1000"]}},
      "id": "3f1c9d0e5b7a4c2e8f6d1a0b9c8e7d6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d",
      "name": "worker",
      "pod": "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
      "namespace": "",
      "lockID": 3,
      "CreateCommand": ["podman", "run", "-d", "--pod", "p1", "--name", "worker", "localhost/busy:1", "sleep", "1000"],
      "RawImageName": "localhost/busy:1",
      "idMappingsOptions": {"HostUIDMapping": true, "HostGIDMapping": true, "UIDMap": null, "GIDMap": null, "AutoUserNs": false, "AutoUserNsOpts": {"Size": 0, "InitialSize": 0, "PasswdFile": "", "GroupFile": "", "AdditionalUIDMappings": null, "AdditionalGIDMappings": null}},
      "Dependencies": null,
      "rootfsImageID": "5d0da3dc976460b72c77d94c8a1ad043720b0416bfc16c52c45d4847e53fadb6",
      "rootfsImageName": "localhost/busy:1",
      "shmSize": 65536000,
      "staticDir": "/var/lib/containers/storage/overlay-containers/3f1c9d0e5b7a/userdata",
      "mounts": ["/dev/shm"],
      "secretsPath": "/run/containers/storage/overlay-containers/3f1c9d0e5b7a/userdata/run/secrets",
      "storageOpts": null,
      "privileged": false,
      "MountLabel": "system_u:object_r:container_file_t:s0:c100,c200",
      "ProcessLabel": "system_u:system_r:container_t:s0:c100,c200",
      "labelopts": ["disable"],
      "ipcNsCtr": "9a8b7c6d5e4f3a2b1c0d3f1c9d0e5b7a4c2e8f6d1a0b9c8e7d6f5a4b3c2d1e0f",
      "netNsCtr": "9a8b7c6d5e4f3a2b1c0d3f1c9d0e5b7a4c2e8f6d1a0b9c8e7d6f5a4b3c2d1e0f",
      "utsNsCtr": "9a8b7c6d5e4f3a2b1c0d3f1c9d0e5b7a4c2e8f6d1a0b9c8e7d6f5a4b3c2d1e0f",
      "cgroupNsCtr": "",
      "createNetNS": false,
      "staticIP": null,
      "staticMAC": null,
      "UseImageResolvConf": false,
      "UseImageHosts": false,
      "entrypoint": null,
      "command": ["sleep", "1000"],
      "stopSignal": 15,
      "createdTime": "2024-11-29T08:53:01.123456789Z",
      "cgroupManager": "cgroupfs",
      "cgroupParent": "/libpod_parent/c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
      "logPath": "/var/lib/containers/storage/overlay-containers/3f1c9d0e5b7a/userdata/ctr.log",
      "logTag": "",
      "logSize": 0,
      "logDriver": "k8s-file",
      "conmonPidFile": "/run/containers/storage/overlay-containers/3f1c9d0e5b7a/userdata/conmon.pid",
      "postConfigureNetNS": false,
      "runtime": "runc",
      "exitCommand": ["/usr/bin/podman", "--root", "/var/lib/containers/storage", "container", "cleanup", "3f1c9d0e5b7a"],
      "pause": false,
      "systemd": false,
      "healthcheck": null,
      "x-future-field": {"nested": [1, 2.5, "three"]}
    }
    """#

    static func podmanConfig() throws -> CheckpointConfig {
        try CheckpointConfig(data: Data(podmanConfigDump.utf8), context: "fixture config.dump")
    }

    static let crpodSection = CrpodSection(
        podName: "p1", podID: podID, podShares: ["ipc", "net", "uts", "pid"],
        containerPrivateNamespaces: ["mount", "cgroup"], rootfs: "/var/lib/crpod/rootfs/busy",
        criuVersion: 40101, runtimeVersion: "1.1.5", checkpointedAt: "2024-11-29T09:00:00Z",
        hostname: "p1", pids: [1, 7])

    static func crpodConfig(_ section: CrpodSection = crpodSection) -> CheckpointConfig {
        CheckpointConfig.make(
            id: containerID, name: "worker", createdTime: "2024-11-29T08:53:01Z",
            createCommand: ["crpod", "run", "--pod", "p1", "--name", "worker", "/bin/sleep", "1000"],
            cgroupParent: "/crpod/p1", runtime: "runc", infraID: infraID, crpod: section)
    }

    static func spec(annotations: [String: String]) throws -> OCISpec {
        var spec = try OCISpec(json: ["ociVersion": "1.0.2-dev", "process": ["args": ["sleep", "1000"]]])
        spec.annotations = annotations
        return spec
    }

    private static func file(_ name: String, _ size: Int64, _ digit: Character) -> ArchiveMember {
        ArchiveMember(name: name, size: size, type: .file, sha256: String(repeating: digit, count: 64))
    }

    /// The members podman 4.3.1 exports for a pod member, in its order.
    static let podmanMembers: [ArchiveMember] = [
        ArchiveMember(name: "artifacts", type: .directory),
        file("config.dump", 4096, "1"),
        file("spec.dump", 2048, "2"),
        ArchiveMember(name: "checkpoint", type: .directory),
        file("checkpoint/inventory.img", 86, "3"),
        file("checkpoint/descriptors.json", 43, "4"),
        file("checkpoint/dump.log", 78231, "5"),
        file("checkpoint/pages-1.img", 73728, "6"),
        file("rootfs-diff.tar", 10240, "7"),
        file("devshm-checkpoint.tar", 1024, "8"),
        file("network.status", 4, "9"),
        file("stats-dump", 47, "a"),
        file("ctr.log", 0, "b"),
    ]

    static func podmanFacts() throws -> ArchiveFacts {
        var facts = ArchiveFacts(members: podmanMembers, compression: .zstd)
        facts.config = try podmanConfig()
        facts.spec = try spec(annotations: ["io.container.manager": "libpod", "io.podman.annotations.autoremove": "FALSE"])
        facts.inventory = try CRIUInventoryDecoder.decode(realInventory)
        facts.stats = try CRIUStatsDecoder.decodeStats(realStatsDump)
        facts.criuVersion = CRIULogVersion(text: "4.1.1", number: 40101)
        return facts
    }

    /// A clean crpod archive: podman's members plus the manifest, last, listing every file.
    static func crpodFacts() throws -> ArchiveFacts {
        var members = podmanMembers.filter { $0.name != "devshm-checkpoint.tar" && $0.name != "ctr.log" }
        let entries = members.filter { $0.type == .file }.map {
            ArchiveManifestModel.Entry(name: $0.name, size: $0.size, sha256: $0.sha256 ?? "")
        }
        members.append(ArchiveMember(name: "crpod-manifest.json", size: 900, type: .file))
        var facts = ArchiveFacts(members: members, compression: .zstd)
        facts.config = crpodConfig()
        facts.spec = try spec(annotations: ["io.crpod.pod": "p1"])
        facts.manifest = ArchiveManifestModel(members: entries)
        facts.inventory = try CRIUInventoryDecoder.decode(realInventory)
        return facts
    }

    /// `facts` with `member` inserted just before the last member (the manifest).
    static func inserting(_ member: ArchiveMember, into facts: ArchiveFacts) -> ArchiveFacts {
        var copy = facts
        copy.members.insert(member, at: max(0, copy.members.count - 1))
        return copy
    }
}
