// fuzz-proc: the /proc and cgroup text parsers of CrpodLinux on arbitrary text.
//
// The input is decoded as crpod's readers decode kernel files (`Files.readText`: UTF-8 with
// replacement) and handed to every parser: ProcCgroup, MountTable (and CgroupLayout /
// CgroupSet on what it parsed), ProcStat, MemoryInfo, validatedCgroupPath and the systemd
// environment parsers. Besides "no trap", round-trip properties are checked on lines built
// the way the kernel writes them, with the input as the process- or user-controlled part (a
// command name, a cgroup path, a mount point): stat-comm-roundtrip, cgroup-path-roundtrip,
// mount-escape-roundtrip; and cgroup-path-validated: validatedCgroupPath accepts only paths
// that are absolute and free of "." and ".." components when split on '/' bytes.
import CrpodLinux
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    procCgroup(text)
    mountTable(text)
    procStat(text)
    _ = MemoryInfo.availableBytes(meminfo: text)
    _ = MemoryInfo.totalBytes(meminfo: text)
    _ = Systemd.parseJournalStream(text)
    _ = Systemd.parseWatchdog(usec: text, pid: nil, currentPID: 1)
    _ = Systemd.parseWatchdog(usec: "1000", pid: text, currentPID: 1)
    for line in text.utf8.split(separator: 10) {
        let candidate = String(decoding: line, as: UTF8.self)
        if let path = try? validatedCgroupPath(candidate) {
            // Over bytes, as the kernel resolves it: absolute, no "." or ".." component.
            let components = Array(path.utf8).split(separator: 0x2F)
            Property.check(path.utf8.first == 0x2F && !components.contains { $0.elementsEqual([0x2E]) || $0.elementsEqual([0x2E, 0x2E]) },
                           "cgroup-path-validated", "validatedCgroupPath accepted \(Array(path.utf8))")
        }
    }
    statRoundTrip(bytes)
    cgroupRoundTrip(bytes)
    mountRoundTrip(bytes)
    return 0
}

func procCgroup(_ text: String) {
    guard let entries = try? ProcCgroup.parse(text) else { return }
    for entry in entries {
        Property.check(entry.path.utf8.first == 0x2F, "cgroup-entry-path", "\(Array(entry.path.utf8))")
        _ = ProcCgroup.path(forController: entry.controllers.first ?? "memory", in: entries)
    }
    if let unified = ProcCgroup.unifiedPath(entries) {
        Property.check(entries.contains { $0.isUnified && $0.path == unified }, "cgroup-unified")
    }
}

func mountTable(_ text: String) {
    guard let mounts = try? MountTable.parse(text) else { return }
    for mount in mounts {
        Property.check(!mount.fsType.isEmpty && !mount.fsType.utf8.contains(0x20), "mount-fstype", mount.fsType)
    }
    guard let layout = try? CgroupLayout.detect(mounts: mounts) else { return }
    Property.check(!layout.hierarchies.isEmpty, "cgroup-layout-nonempty")
    let set = CgroupSet(layout: layout)
    let v1 = set.v1
    Property.check(v1.count == layout.hierarchies.filter { !$0.isUnified }.count, "cgroup-set-v1")
    switch layout.mode {
    case .unified: Property.check(v1.isEmpty && set.v2 != nil, "cgroup-mode-unified")
    case .hybrid: Property.check(!v1.isEmpty && set.v2 != nil, "cgroup-mode-hybrid")
    case .legacy: Property.check(!v1.isEmpty && set.v2 == nil, "cgroup-mode-legacy")
    }
}

func procStat(_ text: String) {
    guard let stat = try? ProcStat.parse(text) else { return }
    _ = stat.isZombieOrDead
    Property.check(stat.pid >= 0 || text.utf8.contains(UInt8(ascii: "-")), "stat-pid", "\(stat.pid)")
}

/// Up to 16 bytes of the input as a command name (the kernel's comm: TASK_COMM_LEN 16 with
/// the NUL, any other byte allowed; a process sets it with prctl(PR_SET_NAME)), in a stat
/// line as the kernel formats it. The parser must give back pid, comm, ppid and start time.
func statRoundTrip(_ bytes: [UInt8]) {
    let comm = Array(bytes.prefix { $0 != 0 }.prefix(15))
    let line = Array("4242 (".utf8) + comm
        + Array(") S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 2580480 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n".utf8)
    let text = String(decoding: line, as: UTF8.self)
    let expected = String(decoding: comm, as: UTF8.self)
    do {
        let stat = try ProcStat.parse(text)
        Property.check(
            stat.pid == 4242 && stat.parentPID == 1 && stat.startTime == 987654 && stat.command == expected
                && stat.state == "S",
            "stat-comm-roundtrip", "comm \(comm) parsed as \(stat)")
    } catch {
        Property.check(false, "stat-comm-roundtrip", "comm \(comm): \(error)")
    }
}

/// The input (up to its first NUL or newline, which a cgroup name cannot hold) as a cgroup
/// under /crpod in a /proc/<pid>/cgroup file; the parser must give back the path.
func cgroupRoundTrip(_ bytes: [UInt8]) {
    let name = Array(bytes.prefix { $0 != 0 && $0 != 10 && $0 != UInt8(ascii: "/") }.prefix(255))
    guard !name.isEmpty, name != [46], name != [46, 46] else { return }
    for prefix in ["/", "/crpod/"] {
        let path = prefix + String(decoding: name, as: UTF8.self)
        let text = "12:memory:\(path)\n0::\(path)\n"
        do {
            let entries = try ProcCgroup.parse(text)
            Property.check(
                entries.count == 2 && ProcCgroup.unifiedPath(entries) == path
                    && ProcCgroup.path(forController: "memory", in: entries) == path,
                "cgroup-path-roundtrip", "path \(Array(path.utf8)) parsed as \(entries)")
        } catch {
            Property.check(false, "cgroup-path-roundtrip", "path \(Array(path.utf8)): \(error)")
        }
    }
}

/// The input as a mount point, escaped as the kernel writes /proc/<pid>/mounts (space, tab,
/// newline and backslash as \ooo; anything else raw), followed by the cgroup2 mount; the
/// parser must give back both lines' fields.
func mountRoundTrip(_ bytes: [UInt8]) {
    let name = Array(bytes.prefix { $0 != 0 }.prefix(255))
    guard !name.isEmpty else { return }
    let mountPoint = "/mnt/" + String(decoding: name, as: UTF8.self)
    var escaped = ""
    for scalar in mountPoint.unicodeScalars {
        switch scalar {
        case " ": escaped += "\\040"
        case "\t": escaped += "\\011"
        case "\n": escaped += "\\012"
        case "\\": escaped += "\\134"
        default: escaped.unicodeScalars.append(scalar)
        }
    }
    let text = "overlay \(escaped) overlay rw,relatime,lowerdir=/a,upperdir=/b,workdir=/c 0 0\n"
        + "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
    do {
        let mounts = try MountTable.parse(text)
        Property.check(
            mounts.count == 2 && mounts[0].mountPoint == mountPoint && mounts[0].fsType == "overlay"
                && mounts[0].source == "overlay" && mounts[1].fsType == "cgroup2"
                && mounts[1].mountPoint == "/sys/fs/cgroup",
            "mount-escape-roundtrip", "mount point \(Array(mountPoint.utf8)) parsed as \(mounts)")
    } catch {
        Property.check(false, "mount-escape-roundtrip", "mount point \(Array(mountPoint.utf8)): \(error)")
    }
}
