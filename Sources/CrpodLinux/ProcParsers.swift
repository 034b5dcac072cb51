/// Pure parsers for /proc text. Readers hand them text, tests hand them literals.
///
/// They split on bytes (the UTF-8 view), never on Characters: a name ending in "\r", a
/// combining mark or a prepend mark would otherwise fuse with the separator next to it into
/// one grapheme cluster and shift the fields (found by fuzzing, kept in Fuzz/regressions).

extension Substring {
    /// `self` split on an ASCII separator byte, as substrings.
    func fields(_ separator: Character, maxSplits: Int = .max, omittingEmpty: Bool) -> [Substring] {
        let byte = separator.asciiValue ?? 0
        return utf8.split(separator: byte, maxSplits: maxSplits, omittingEmptySubsequences: omittingEmpty).map { Substring($0) }
    }
}

/// One line of /proc/<pid>/cgroup: `hierarchy-ID:controller-list:cgroup-path`.
public struct ProcCgroupEntry: Sendable, Equatable {
    public let hierarchyID: Int
    /// Empty for the cgroup v2 entry (`0::/path`); `name=systemd` style names are kept.
    public let controllers: [String]
    public let path: String

    public var isUnified: Bool { hierarchyID == 0 && controllers.isEmpty }
}

public enum ProcCgroup {
    public static func parse(_ text: String, file: String = "/proc/self/cgroup") throws(LinuxError) -> [ProcCgroupEntry] {
        var entries: [ProcCgroupEntry] = []
        for (index, line) in text[...].fields("\n", omittingEmpty: false).enumerated() where !line.isEmpty {
            let fields = line.fields(":", maxSplits: 2, omittingEmpty: false)
            guard fields.count == 3, let id = Int(fields[0]), fields[2].utf8.first == UInt8(ascii: "/") else {
                throw LinuxError.parse(file: file, line: index + 1, detail: "expected ID:controllers:/path, got \"\(line)\"")
            }
            let controllers = fields[1].fields(",", omittingEmpty: true).map(String.init)
            entries.append(ProcCgroupEntry(hierarchyID: id, controllers: controllers, path: String(fields[2])))
        }
        return entries
    }

    /// The cgroup v2 path, if the process has one.
    public static func unifiedPath(_ entries: [ProcCgroupEntry]) -> String? {
        entries.first(where: \.isUnified)?.path
    }

    /// The v1 path for a controller (`memory`, `name=systemd`).
    public static func path(forController controller: String, in entries: [ProcCgroupEntry]) -> String? {
        entries.first { $0.controllers.contains(controller) }?.path
    }
}

/// One line of /proc/<pid>/mounts (fstab format; spaces in paths are octal escapes).
public struct MountEntry: Sendable, Equatable {
    public let source: String
    public let mountPoint: String
    public let fsType: String
    public let options: [String]
}

public enum MountTable {
    public static func parse(_ text: String, file: String = "/proc/self/mounts") throws(LinuxError) -> [MountEntry] {
        var entries: [MountEntry] = []
        for (index, line) in text[...].fields("\n", omittingEmpty: false).enumerated() where !line.isEmpty {
            let fields = line.fields(" ", omittingEmpty: true)
            guard fields.count >= 4 else {
                throw LinuxError.parse(file: file, line: index + 1, detail: "expected at least 4 fields, got \"\(line)\"")
            }
            entries.append(MountEntry(
                source: unescape(fields[0]), mountPoint: unescape(fields[1]), fsType: String(fields[2]),
                options: fields[3].fields(",", omittingEmpty: true).map(String.init)))
        }
        return entries
    }

    /// Undoes the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
    public static func unescape(_ field: Substring) -> String {
        guard field.utf8.contains(UInt8(ascii: "\\")) else { return String(field) }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The fields of /proc/<pid>/stat that crpod needs.
public struct ProcStat: Sendable, Equatable {
    public let pid: Int32
    public let command: String
    /// R, S, D, Z, T, t, X, I ...
    public let state: Character
    public let parentPID: Int32
    /// Start time in clock ticks since boot: with the pid, it identifies one process.
    public let startTime: UInt64
    /// The kernel's per-task flags (field 9); `PF_EXITING` (0x4) is set once the task is in
    /// do_exit — from then on the kernel may already show it in the root of every v1 cgroup.
    public var flags: UInt32 = 0

    public var isZombieOrDead: Bool { state == "Z" || state == "X" || state == "x" }
    /// The task has begun to exit (PF_EXITING), though it is not a zombie yet.
    public var isExiting: Bool { flags & 0x4 != 0 }

    public static func parse(_ text: String, file: String = "/proc/<pid>/stat") throws(LinuxError) -> ProcStat {
        // The command sits in parentheses and may itself hold spaces and ')'.
        let bytes = text.utf8
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")), let close = bytes.lastIndex(of: UInt8(ascii: ")")), open < close,
              let pid = Int32(Substring(bytes[..<open]).trimmingSpaces) else {
            throw LinuxError.parse(file: file, line: 1, detail: "no \"pid (comm)\" prefix")
        }
        let rest = Substring(bytes[bytes.index(after: close)...]).fields(" ", omittingEmpty: true)
        // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
        guard rest.count >= 20, let state = rest[0].unicodeScalars.first.map(Character.init), let parent = Int32(rest[1]),
              let start = UInt64(rest[19].trimmingSpaces) else {
            throw LinuxError.parse(file: file, line: 1, detail: "expected at least 22 fields")
        }
        let command = String(Substring(bytes[bytes.index(after: open)..<close]))
        var stat = ProcStat(pid: pid, command: command, state: state, parentPID: parent, startTime: start)
        stat.flags = UInt32(rest[6]) ?? 0
        return stat
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var scalars = unicodeScalars[...]
        while scalars.first == " " { scalars = scalars.dropFirst() }
        while scalars.last == " " || scalars.last == "\n" { scalars = scalars.dropLast() }
        return Substring(scalars)
    }
}
