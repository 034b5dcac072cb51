/// Which PIDs are taken inside a PID namespace, seen from the host's /proc.
public enum PidNamespaces {
    /// The innermost PID of a task from its `/proc/<pid>/status` text (`NSpid:` line, last field).
    public static func innermostPID(statusText: String) -> Int32? {
        for line in statusText.split(separator: "\n") where line.hasPrefix("NSpid:") {
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.flatMap { Int32($0) }
        }
        return nil
    }

    /// Every PID (processes and their threads) in use inside the PID namespace with inode
    /// `namespaceInode`, as numbered inside that namespace.
    public static func pidsInUse(namespaceInode: UInt64, procRoot: String = "/proc") throws(LinuxError) -> Set<Int32> {
        var used: Set<Int32> = []
        for entry in try Files.listDirectory(procRoot) {
            guard let pid = Int32(entry),
                  let ref = try? NamespaceRef.of(pid: pid, kind: .pid, procRoot: procRoot),
                  ref.inode == namespaceInode else { continue }
            let tasks = (try? Files.listDirectory("\(procRoot)/\(pid)/task")) ?? [entry]
            for task in tasks {
                guard let text = try? Files.readText("\(procRoot)/\(pid)/task/\(task)/status"),
                      let inner = innermostPID(statusText: text) else { continue }
                used.insert(inner)
            }
        }
        return used
    }
}
