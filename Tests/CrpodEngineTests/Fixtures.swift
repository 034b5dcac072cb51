@testable import CrpodLinux
@testable import CrpodEngine

/// A 64-hex-digit id starting with `prefix`.
func fakeID(_ prefix: String) -> String {
    prefix + String(repeating: "0", count: 64 - prefix.count)
}

func podRecord(id: String, name: String, shares: [String] = ["ipc", "net", "uts"],
               infra: ProcessIdentity? = ProcessIdentity(pid: 4242, startTime: 99), created: String = "2026-01-01T00:00:00Z") -> PodRecord {
    PodRecord(
        id: id, name: name, shares: shares, hostname: shares.contains("uts") ? name : nil,
        cgroupParent: "/crpod", cgroupPath: "/crpod/" + id, infra: infra,
        namespaces: [NamespaceRef(kind: .net, path: "/proc/4242/ns/net", inode: 4026532008)],
        processLabel: "system_u:system_r:container_t:s0:c1,c2", mountLabel: nil, created: created)
}

func containerRecord(id: String, name: String, pod: PodRecord? = nil, root: String = "/var/lib/crpod",
                     created: String = "2026-01-01T00:00:00Z") -> ContainerRecord {
    let directory = root + "/containers/" + id
    return ContainerRecord(
        id: id, name: name, podID: pod?.id, podName: pod?.name, rootfs: "/srv/rootfs",
        bundle: directory + "/bundle",
        overlay: Mounts.Overlay(lower: "/srv/rootfs", upper: directory + "/upper", work: directory + "/work", target: directory + "/rootfs"),
        cgroupPath: (pod?.cgroupPath ?? "/crpod") + "/" + id, command: ["/bin/sh", "-c", "sleep 1000"],
        env: ["A=1"], workdir: "/tmp", logPath: directory + "/ctr.log", created: created, state: "running")
}
