#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodLinux
import Testing

struct PodJSON: Decodable {
    var id: String
    var name: String
    var status: String
    var shares: [String]
    var hostname: String?
    var infraPid: Int32?
    var cgroupPath: String
    var namespaces: [NamespaceJSON]
    var containers: [String]
    var shmDirectory: String?
}

struct NamespaceJSON: Decodable {
    var type: String
    var inode: UInt64
}

struct ContainerJSON: Decodable {
    var id: String
    var name: String
    var state: String
    var pid: Int32?
    var pod: String?
    var cgroupPath: String
    var bundle: String
    var namespaces: [NamespaceJSON]
}

extension Array where Element == NamespaceJSON {
    func inode(_ type: String) -> UInt64? { first { $0.type == type }?.inode }
}

let counter = ["sh", "-c", "i=0; while true; do echo count $i; i=$((i+1)); sleep 0.2; done"]

@Suite("pods and containers on real runc", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct PodLifecycleTests {
    @Test("members share exactly the pod's namespaces; stop and rm leave nothing behind", arguments: [
        ["ipc", "net", "uts"], ["ipc", "net", "uts", "pid"],
    ])
    func membersShareInfraNamespaces(shares: [String]) async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--share", shares.joined(separator: ","), "--hostname", "pod-a-host", "pa"])
            let pod = try await crpod.json(PodJSON.self, ["pod", "inspect", "pa"])
            #expect(pod.status == "Running")
            #expect(pod.shares == shares)
            let infra = try #require(pod.infraPid)
            let infraIdentity = try ProcessIdentity.of(pid: infra)
            try await crpod.ok(["run", "--name", "c1", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--"] + counter)
            let container = try await crpod.json(ContainerJSON.self, ["inspect", "c1"])
            #expect(container.state == "running")
            #expect(container.pod == pod.id)
            let pid = try #require(container.pid)

            for kind in ["ipc", "net", "uts", "pid", "cgroup"] {
                let infraInode = try NamespaceRef.of(pid: infra, kind: NamespaceKind(rawValue: kind)).inode
                let memberInode = try NamespaceRef.of(pid: pid, kind: NamespaceKind(rawValue: kind)).inode
                if shares.contains(kind) {
                    #expect(memberInode == infraInode, "\(kind) should be the infra's")
                } else {
                    #expect(memberInode != infraInode, "\(kind) should be private")
                }
                #expect(container.namespaces.inode(kind) == memberInode)
            }
            #expect(try NamespaceRef.of(pid: pid, kind: .mnt).inode != NamespaceRef.of(pid: infra, kind: .mnt).inode)

            let cgroupEntries = try ProcCgroup.parse(Files.readText("/proc/\(pid)/cgroup"))
            #expect(ProcCgroup.unifiedPath(cgroupEntries) == container.cgroupPath)
            #expect(container.cgroupPath.hasPrefix(pod.cgroupPath + "/"))

            #expect(try await eventually { try await crpod.ok(["logs", "c1"]).contains("count 2") })
            let listed = try await crpod.ok(["ps", "-q"])
            #expect(listed == container.id)

            try await crpod.ok(["stop", "-t", "2", "c1"])
            #expect(try await crpod.ok(["ps", "-q"]).isEmpty)
            #expect(try await crpod.json(ContainerJSON.self, ["inspect", "c1"]).state == "exited")
            try await crpod.ok(["rm", "c1"])
            try await crpod.ok(["pod", "rm", "pa"])
            #expect(try await crpod.leftovers() == [])
            #expect(!infraIdentity.isAlive())
        }
    }

    @Test("a container joining the pod's UTS namespace sees the pod's hostname")
    func hostnameComesFromThePod() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--hostname", "pod-host-1", "ph"])
            try await crpod.ok(["run", "--name", "h", "--pod", "ph", "--rootfs", PrivilegedHost.rootfs, "--", "hostname"])
            #expect(try await eventually { try await crpod.ok(["logs", "h"]) == "pod-host-1" })
            try await crpod.ok(["rm", "h"])
            try await crpod.ok(["pod", "rm", "ph"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("the infra of a PID-sharing pod reaps orphans, so no zombie keeps a PID")
    func infraReapsOrphans() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "--share", "ipc,net,uts,pid", "pz"])
            let infra = try #require(try await crpod.json(PodJSON.self, ["pod", "inspect", "pz"]).infraPid)
            // The subshell exits at once, so its `sleep 0.2` is reparented to PID 1 of the pod: the infra.
            try await crpod.ok(["run", "--name", "orphans", "--pod", "pz", "--rootfs", PrivilegedHost.rootfs, "--",
                                "sh", "-c", "for i in 1 2 3; do (sleep 0.2 &); done; echo spawned; sleep 100"])
            #expect(try await eventually { try await crpod.ok(["logs", "orphans"]).contains("spawned") })
            try await Task.sleep(for: .milliseconds(800))
            let children = try Files.listDirectory("/proc").compactMap { Int32($0) }.compactMap { pid in
                (try? Files.readText("/proc/\(pid)/stat")).flatMap { try? ProcStat.parse($0) }
            }.filter { $0.parentPID == infra }
            #expect(children.filter(\.isZombieOrDead).isEmpty, "zombies under the infra: \(children)")
            try await crpod.ok(["pod", "rm", "-f", "pz"])
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("pod rm refuses while the pod has containers; -f removes them too")
    func podRemovalNeedsForce() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pf"])
            try await crpod.ok(["run", "--name", "m", "--pod", "pf", "--rootfs", PrivilegedHost.rootfs, "--"] + counter)
            let refused = try await crpod.run(["pod", "rm", "pf"])
            #expect(!refused.ok)
            #expect(refused.stderr.contains("pod pf has containers (m)"))
            let running = try await crpod.run(["rm", "m"])
            #expect(!running.ok)
            #expect(running.stderr.contains("container m is running"))
            try await crpod.ok(["pod", "rm", "-f", "pf"])
            #expect(try await crpod.ok(["ps", "-a", "-q"]).isEmpty)
            #expect(try await crpod.ok(["pod", "ls", "-q"]).isEmpty)
            #expect(try await crpod.leftovers() == [])
        }
    }

    @Test("crpod check passes on a provisioned host")
    func hostCheckPasses() async throws {
        try await withCrpod { crpod in
            let outcome = try await crpod.run(["check"])
            #expect(outcome.ok, "crpod check failed:\n\(outcome.stdout)")
            #expect(outcome.stdout.contains("criu"))
            #expect(!outcome.stdout.contains("FAIL"))
        }
    }
}
