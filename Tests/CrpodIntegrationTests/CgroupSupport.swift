#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux
import Testing

extension CrpodInstance {
    /// Every task of container `name` (its init and all descendants) sits in the container's
    /// own cgroup — `<pod cgroup>/<id>` when `pod` is given — in every hierarchy crpod
    /// manages, and a private cgroup namespace (if it has one) shows it `0::/`.
    func expectTasksInOwnCgroup(_ name: String, pod: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let view = try await json(ContainerJSON.self, ["inspect", name])
        let pid = try #require(view.pid, sourceLocation: sourceLocation)
        var parent = cgroupParent
        if let pod { parent = try await json(PodJSON.self, ["pod", "inspect", pod]).cgroupPath }
        let expected = parent + "/" + view.id
        #expect(view.cgroupPath == expected, sourceLocation: sourceLocation)
        let layout = try CgroupLayout.current()
        let tasks = Processes.tree(root: pid)
        #expect(!tasks.isEmpty, sourceLocation: sourceLocation)
        for task in tasks {
            // A short-lived child (the counter's `sleep`) may exit meanwhile; the init may not.
            guard let text = task == pid ? try Files.readText("/proc/\(task)/cgroup") : try? Files.readText("/proc/\(task)/cgroup") else { continue }
            // Exited after the read (a zombie shows the root of every v1 hierarchy): skip it too.
            if task != pid && !Processes.isRunning(task) { continue }
            let lines = text.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false) }
            for hierarchy in layout.hierarchies {
                let line = lines.first { fields in
                    hierarchy.isUnified ? fields[0] == "0" && fields[1].isEmpty
                        : Set(fields[1].split(separator: ",").map(String.init)) == Set(hierarchy.controllers)
                }
                let name = hierarchy.isUnified ? "cgroup2" : hierarchy.controllers.joined(separator: ",")
                #expect(line.map { String($0[2]) } == expected, "pid \(task) of \(name) in \(name): \(line.map { String($0[2]) } ?? "none"), want \(expected)",
                        sourceLocation: sourceLocation)
            }
        }
        // Only with a cgroup namespace of its own (podman on a hybrid host shares the host's).
        guard try NamespaceRef.of(pid: pid, kind: .cgroup).inode != NamespaceRef.of(pid: getpid(), kind: .cgroup).inode else { return }
        let inside = try await runner.run("/usr/bin/nsenter", ["-C", "-t", "\(pid)", "cat", "/proc/\(pid)/cgroup"])
        #expect(inside.stdout.split(separator: "\n").contains("0::/"), "inside its cgroup namespace: \(inside.stdout) \(inside.stderr)", sourceLocation: sourceLocation)
    }

    /// Every cgroup directory under this instance's cgroup parent, in every hierarchy;
    /// `below` skips the first levels (1: not the pods and standalone containers themselves).
    func cgroupDirectories(below depth: Int = 0) throws -> [String] {
        let cgroups = CgroupSet(layout: try CgroupLayout.current())
        let trees: [any CgroupTree] = cgroups.v1 + (cgroups.v2.map { [$0] } ?? [])
        let parentDepth = cgroupParent.split(separator: "/").count
        return try trees.flatMap { tree in
            try tree.descendants(of: cgroupParent).filter { $0.split(separator: "/").count > parentDepth + depth }.map { try tree.directory($0) }
        }
    }
}
