import Foundation
import Testing
@testable import CrpodLinux

/// L0: the /proc parsers on literal fixtures.
@Suite("ProcCgroup.parse")
struct ProcCgroupTests {
    /// A hybrid host (this CI machine): v1 controllers one per hierarchy plus `0::/`.
    static let hybrid = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/aef1599cb439e03e66e03808a2967d56
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/

        """

    @Test func hybridFile() throws {
        let entries = try ProcCgroup.parse(Self.hybrid)
        #expect(entries.count == 10)
        #expect(entries.first == ProcCgroupEntry(hierarchyID: 9, controllers: ["name=systemd"], path: "/"))
        #expect(ProcCgroup.unifiedPath(entries) == "/")
        #expect(ProcCgroup.path(forController: "memory", in: entries) == "/process_api/aef1599cb439e03e66e03808a2967d56")
        #expect(ProcCgroup.path(forController: "name=systemd", in: entries) == "/")
        #expect(ProcCgroup.path(forController: "hugetlb", in: entries) == nil)
        #expect(entries.filter(\.isUnified).count == 1)
    }

    @Test func pureV2File() throws {
        let entries = try ProcCgroup.parse("0::/user.slice/user-1000.slice/session-3.scope\n")
        let only = try #require(entries.first)
        #expect(entries.count == 1)
        #expect(only.isUnified)
        #expect(only.controllers.isEmpty)
        #expect(ProcCgroup.unifiedPath(entries) == "/user.slice/user-1000.slice/session-3.scope")
        #expect(ProcCgroup.path(forController: "memory", in: entries) == nil)
    }

    @Test func v1OnlyWithCoMountedControllers() throws {
        let text = """
            11:cpu,cpuacct:/system.slice/docker.service
            10:net_cls,net_prio:/
            1:name=systemd:/system.slice/docker.service
            """
        let entries = try ProcCgroup.parse(text)
        #expect(ProcCgroup.unifiedPath(entries) == nil)
        #expect(entries[0].controllers == ["cpu", "cpuacct"])
        #expect(ProcCgroup.path(forController: "cpuacct", in: entries) == "/system.slice/docker.service")
        #expect(ProcCgroup.path(forController: "net_prio", in: entries) == "/")
        #expect(!entries[0].isUnified)
    }

    /// Regression: blank lines used to be dropped before numbering.
    @Test func lineNumbersCountBlankLines() throws {
        let error = try #require(throws: LinuxError.self) { try ProcCgroup.parse("0::/\n\n1:cpu\n") }
        guard case let .parse(_, line, _) = error else {
            Issue.record("expected a parse error, got \(error)")
            return
        }
        #expect(line == 3)
    }

    @Test func colonsInThePathStayInThePath() throws {
        let entries = try ProcCgroup.parse("0::/machine.slice/libpod-a:b.scope\n")
        #expect(entries.first?.path == "/machine.slice/libpod-a:b.scope")
    }

    @Test(arguments: [
        ("x:cpu:/", 1),             // hierarchy ID not a number
        ("0::/\n4:memory", 2),      // only two fields
        ("0::/\n1:cpu:/\n2:cpuacct:relative", 3),  // path not absolute
        ("garbage", 1),
    ])
    func malformedLineNamesFileAndLine(text: String, line: Int) throws {
        let error = try #require(throws: LinuxError.self) {
            try ProcCgroup.parse(text, file: "/proc/42/cgroup")
        }
        guard case let .parse(file, errorLine, detail) = error else {
            Issue.record("expected .parse, got \(error)")
            return
        }
        #expect(file == "/proc/42/cgroup")
        #expect(errorLine == line)
        #expect(detail.contains("ID:controllers:/path"))
        #expect(error.description.hasPrefix("cannot parse /proc/42/cgroup:\(line):"))
    }
}

@Suite("MountTable.parse")
struct MountTableTests {
    static let mounts = #"""
        overlay / overlay rw,relatime,lowerdir=/l1:/l2,upperdir=/u,workdir=/w 0 0
        proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
        tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
        cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
        cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
        /dev/sdb1 /media/usb\040stick vfat rw,relatime 0 0
        tmpfs /run/odd\011tab\134slash tmpfs rw 0 0
        """#

    @Test func parsesFieldsAndUnescapesPaths() throws {
        let entries = try MountTable.parse(Self.mounts)
        #expect(entries.count == 7)
        #expect(entries[0] == MountEntry(
            source: "overlay", mountPoint: "/", fsType: "overlay",
            options: ["rw", "relatime", "lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w"]))
        #expect(entries[3].fsType == "cgroup")
        #expect(entries[3].options == ["rw", "relatime", "memory"])
        #expect(entries[5].source == "/dev/sdb1")
        #expect(entries[5].mountPoint == "/media/usb stick")
        #expect(entries[6].mountPoint == "/run/odd\ttab\\slash")
    }

    @Test(arguments: [
        (#"plain"#, "plain"),
        (#"a\040b"#, "a b"),
        (#"line\012break"#, "line\nbreak"),
        (#"\134"#, "\\"),
        (#"caf\303\251"#, "café"),            // UTF-8 bytes escaped one by one
        (#"short\04"#, #"short\04"#),          // fewer than three digits: kept
        (#"bad\09x"#, #"bad\09x"#),            // not octal: kept
        (#"big\400"#, #"big\400"#),            // does not fit a byte: kept
    ])
    func unescape(field: String, expected: String) {
        #expect(MountTable.unescape(Substring(field)) == expected)
    }

    @Test func tooFewFieldsNamesTheLine() throws {
        let error = try #require(throws: LinuxError.self) {
            try MountTable.parse("proc /proc proc rw 0 0\nsysfs /sys sysfs\n", file: "/proc/1/mounts")
        }
        #expect(error == .parse(file: "/proc/1/mounts", line: 2, detail: "expected at least 4 fields, got \"sysfs /sys sysfs\""))
    }

    @Test func fourFieldsAreEnough() throws {
        let entries = try MountTable.parse("none /mnt tmpfs ro")
        #expect(entries == [MountEntry(source: "none", mountPoint: "/mnt", fsType: "tmpfs", options: ["ro"])])
    }
}

@Suite("ProcStat.parse")
struct ProcStatTests {
    /// `cat /proc/self/stat` on this machine; field 22 (starttime) is 72684.
    static let cat = "28667 (cat) R 28664 28664 27046 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 72684 3133440 358 18446744073709551615 94354298396672 94354298416553 140726782933472 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94354298432560 94354298434176 94354310848512 140726782941896 140726782941916 140726782941916 140726782943211 0\n"

    @Test func realLine() throws {
        let stat = try ProcStat.parse(Self.cat)
        var expected = ProcStat(pid: 28667, command: "cat", state: "R", parentPID: 28664, startTime: 72684)
        expected.flags = 4194304
        #expect(stat == expected)
        #expect(!stat.isZombieOrDead && !stat.isExiting)
    }

    @Test("PF_EXITING (0x4) in field 9: a task in do_exit, not yet a zombie")
    func exitingTask() throws {
        let stat = try ProcStat.parse(Self.cat.replacingFirst(" 4194304 ", with: " 4194308 "))
        #expect(stat.isExiting && !stat.isZombieOrDead && stat.state == "R")
    }

    @Test func commandWithSpacesAndParentheses() throws {
        // A hostile comm that itself looks like "name) state ppid ... (": only the last ')' ends it.
        let text = Self.cat.replacingFirst("(cat) R", with: "(x) R 1 2 (y) Z")
        let stat = try ProcStat.parse(text)
        #expect(stat.command == "x) R 1 2 (y")
        #expect(stat.state == "Z")
        #expect(stat.parentPID == 28664)
        #expect(stat.startTime == 72684)
    }

    @Test(arguments: ["Z", "X", "x"])
    func zombieOrDead(state: String) throws {
        let stat = try ProcStat.parse(Self.cat.replacingFirst("(cat) R", with: "(cat) \(state)"))
        #expect(stat.isZombieOrDead)
    }

    @Test(arguments: ["S", "D", "T", "I"])
    func livingStates(state: String) throws {
        let stat = try ProcStat.parse(Self.cat.replacingFirst("(cat) R", with: "(cat) \(state)"))
        #expect(stat.state == Character(state))
        #expect(!stat.isZombieOrDead)
    }

    @Test(arguments: [
        "",
        "28667 cat R 28664",                                      // no parentheses
        "pid (cat) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",    // pid not a number
        "1 )cat( R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",      // ')' before '('
        "1 (cat) R 1 1 1",                                        // fewer than 22 fields
        "1 (cat) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 soon",   // starttime not a number
        "1 (cat) R ppid 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",   // ppid not a number
    ])
    func malformed(text: String) throws {
        let error = try #require(throws: LinuxError.self) { try ProcStat.parse(text, file: "/proc/1/stat") }
        guard case let .parse(file, line, _) = error else {
            Issue.record("expected .parse, got \(error)")
            return
        }
        #expect(file == "/proc/1/stat")
        #expect(line == 1)
    }

    @Test func exactlyTwentyTwoFields() throws {
        let stat = try ProcStat.parse("1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 17")
        #expect(stat.startTime == 17)
        #expect(stat.parentPID == 0)
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}

/// Inputs libFuzzer found (Fuzz/regressions/fuzz-proc): separators next to marks that join
/// grapheme clusters. The parsers split on bytes, so these parse like any other name.
@Suite("/proc parsers: fuzzing regressions")
struct ProcParserFuzzRegressions {
    @Test(arguments: ["\u{0301}abc", "abc\u{0600}", "a) b (c", "\u{0600}"])
    func statCommandsWithMarksParse(command: String) throws {
        let stat = try ProcStat.parse("42 (\(command)) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0")
        #expect(stat.pid == 42 && stat.command == command && stat.state == "S" && stat.startTime == 99)
    }

    @Test func aCgroupPathEndingInCarriageReturnStaysOnItsLine() throws {
        let entries = try ProcCgroup.parse("2:memory:/a\r\n0::/b\n")
        #expect(entries.map(\.path) == ["/a\r", "/b"])
        #expect(try ProcCgroup.parse("0::/\u{0301}x\n").first?.path == "/\u{0301}x")
    }

    @Test func aMountPointEndingInAPrependMarkKeepsItsFields() throws {
        let entries = try MountTable.parse("tmpfs /mnt/x\u{0600} tmpfs rw,nosuid 0 0\n")
        #expect(entries == [MountEntry(source: "tmpfs", mountPoint: "/mnt/x\u{0600}", fsType: "tmpfs", options: ["rw", "nosuid"])])
    }
}

@Suite("/proc parsers: escapes after marks")
struct ProcParserEscapeRegression {
    @Test func anEscapeAfterAPrependMarkIsUndone() throws {
        let entries = try MountTable.parse("tmpfs /mnt/\u{0600}\\012x tmpfs rw 0 0\n")
        #expect(entries.first?.mountPoint == "/mnt/\u{0600}\nx")
    }
}
