#if canImport(Glibc)
import Glibc
#endif

/// Where a process sits in one hierarchy crpod manages, when that is not where it should be.
public struct CgroupMisplacement: Sendable, Equatable, CustomStringConvertible {
    public let pid: Int32
    /// `cgroup2` or the v1 controllers (`cpu`, `name=systemd`).
    public let hierarchy: String
    public let actual: String
    public let expected: String

    public var description: String { "pid \(pid) is in \(hierarchy):\(actual), not \(expected)" }
}

/// Checks a process's /proc/<pid>/cgroup against the cgroup it must be in, in every hierarchy
/// of the layout (and only those: a unified view of a hybrid host still lists the v1 lines,
/// which crpod does not manage there).
public enum CgroupPlacement {
    public static func misplacements(pid: Int32, entries: [ProcCgroupEntry], expected: String, layout: CgroupLayout) -> [CgroupMisplacement] {
        layout.hierarchies.compactMap { hierarchy in
            let name = hierarchy.isUnified ? "cgroup2" : hierarchy.controllers.joined(separator: ",")
            let entry = hierarchy.isUnified
                ? entries.first(where: \.isUnified)
                : entries.first { !$0.isUnified && Set($0.controllers) == Set(hierarchy.controllers) }
            guard let actual = entry?.path else {
                return CgroupMisplacement(pid: pid, hierarchy: name, actual: "(none)", expected: expected)
            }
            return actual == expected ? nil : CgroupMisplacement(pid: pid, hierarchy: name, actual: actual, expected: expected)
        }
    }

    /// The misplacements of `pids` (processes that went away meanwhile are skipped).
    public static func check(pids: [Int32], expected: String, layout: CgroupLayout, procRoot: String = "/proc") -> [CgroupMisplacement] {
        pids.flatMap { pid -> [CgroupMisplacement] in
            guard let text = try? Files.readText("\(procRoot)/\(pid)/cgroup"),
                  let entries = try? ProcCgroup.parse(text, file: "\(procRoot)/\(pid)/cgroup") else { return [] }
            return misplacements(pid: pid, entries: entries, expected: expected, layout: layout)
        }
    }
}

extension Processes {
    /// `root` and all its descendants, from the parent pids in /proc/<pid>/stat (this kernel
    /// has no /proc/<pid>/task/<tid>/children).
    public static func tree(root: Int32, procRoot: String = "/proc") -> [Int32] {
        guard let entries = try? Files.listDirectory(procRoot) else { return [root] }
        var children: [Int32: [Int32]] = [:]
        for pid in entries.compactMap(Int32.init) {
            guard let text = try? Files.readText("\(procRoot)/\(pid)/stat"), let stat = try? ProcStat.parse(text) else { continue }
            children[stat.parentPID, default: []].append(pid)
        }
        var result: [Int32] = []
        var pending = [root]
        while let pid = pending.popLast() {
            result.append(pid)
            pending += children[pid] ?? []
        }
        return result
    }
}
