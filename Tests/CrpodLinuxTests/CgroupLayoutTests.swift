import Testing
@testable import CrpodLinux

/// L0: which cgroup hierarchies a mount table describes.
enum LayoutFixtures {
    static let pureV2 = """
        proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
        cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0
        """

    /// This machine's /proc/self/mounts cgroup lines.
    static let hybrid = """
        tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
        cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
        cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
        cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0
        cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
        cgroup /sys/fs/cgroup/devices cgroup rw,relatime,devices 0 0
        cgroup /sys/fs/cgroup/freezer cgroup rw,relatime,freezer 0 0
        cgroup /sys/fs/cgroup/blkio cgroup rw,relatime,blkio 0 0
        cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
        cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
        cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
        """

    static let legacy = """
        tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0
        cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 0
        cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
        cgroup /sys/fs/cgroup/net_cls,net_prio cgroup rw,nosuid,nodev,noexec,relatime,net_cls,net_prio 0 0
        """
}

@Suite("CgroupLayout.detect")
struct CgroupLayoutTests {
    static func layout(_ text: String) throws -> CgroupLayout {
        try CgroupLayout.detect(mounts: MountTable.parse(text))
    }

    @Test func pureV2() throws {
        let layout = try Self.layout(LayoutFixtures.pureV2)
        #expect(layout.mode == .unified)
        #expect(layout.hierarchies == [CgroupHierarchy(mountPoint: "/sys/fs/cgroup", isUnified: true, controllers: [])])
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup")
    }

    @Test func hybrid() throws {
        let layout = try Self.layout(LayoutFixtures.hybrid)
        #expect(layout.mode == .hybrid)
        #expect(layout.hierarchies.count == 10)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup/unified")
        let v1 = layout.hierarchies.filter { !$0.isUnified }
        #expect(v1.map(\.controllers) == [
            ["cpu"], ["cpuacct"], ["cpuset"], ["memory"], ["devices"], ["freezer"], ["blkio"], ["pids"], ["name=systemd"],
        ])
        #expect(v1.first?.mountPoint == "/sys/fs/cgroup/cpu")
    }

    @Test func legacyKeepsOnlyControllerOptions() throws {
        let layout = try Self.layout(LayoutFixtures.legacy)
        #expect(layout.mode == .legacy)
        #expect(layout.unified == nil)
        #expect(layout.hierarchies.map(\.controllers) == [["name=systemd"], ["cpu", "cpuacct"], ["net_cls", "net_prio"]])
        #expect(layout.hierarchies.allSatisfy { !$0.isUnified })
    }

    @Test func aMountPointSeenTwiceCountsOnce() throws {
        let layout = try Self.layout(LayoutFixtures.pureV2 + "\ncgroup2 /sys/fs/cgroup cgroup2 rw,relatime 0 0")
        #expect(layout.hierarchies.count == 1)
    }

    @Test func noCgroupMountIsAnError() throws {
        let error = try #require(throws: LinuxError.self) {
            try Self.layout("proc /proc proc rw 0 0\ntmpfs /sys/fs/cgroup tmpfs rw 0 0")
        }
        #expect(error == .notFound(what: "cgroup mount", path: "/proc/self/mounts"))
    }

    @Test(arguments: [(LayoutFixtures.pureV2, "/sys/fs/cgroup"), (LayoutFixtures.hybrid, "/sys/fs/cgroup/unified")])
    func discoverFindsTheCgroup2Mount(text: String, root: String) throws {
        #expect(try CgroupV2Manager.discover(mounts: MountTable.parse(text)).root == root)
    }

    @Test func discoverOnLegacyFails() throws {
        let error = try #require(throws: LinuxError.self) {
            try CgroupV2Manager.discover(mounts: MountTable.parse(LayoutFixtures.legacy))
        }
        #expect(error == .notFound(what: "cgroup2 mount", path: "/proc/self/mounts"))
    }

    @Test func modeRawValues() {
        #expect(CgroupMode.unified.rawValue == "v2")
        #expect(CgroupMode.legacy.rawValue == "v1")
        #expect(CgroupMode.hybrid.rawValue == "hybrid")
    }
}

@Suite("validatedCgroupPath")
struct ValidatedCgroupPathTests {
    @Test(arguments: ["/", "/crpod", "/crpod/pod-1234/ctr", "/a..b/.hidden"])
    func accepts(path: String) throws {
        #expect(try validatedCgroupPath(path) == path)
    }

    @Test(arguments: ["", "crpod/pod", "../etc", "/crpod/../../etc", "/crpod/./pod", "/..", "/."])
    func rejects(path: String) throws {
        let error = try #require(throws: LinuxError.self) { try validatedCgroupPath(path) }
        guard case let .parse(file, _, detail) = error else {
            Issue.record("expected .parse, got \(error)")
            return
        }
        #expect(file == "cgroup path")
        #expect(detail.contains("\"\(path)\""))
    }

    @Test func treesRefuseEscapingPaths() throws {
        let tree = CgroupV2Manager(root: "/nonexistent-root")
        #expect(throws: LinuxError.self) { try tree.directory("/a/../../etc") }
        #expect(throws: LinuxError.self) { try tree.create("relative") }
        #expect(!tree.exists("/../etc"))
        #expect(try tree.directory("/") == "/nonexistent-root")
        #expect(try tree.directory("/a/b") == "/nonexistent-root/a/b")
    }
}

@Suite("CgroupLayout with duplicate mounts")
struct CgroupDuplicateMountTests {
    /// While CRIU restores, it mounts "cgyard" copies of the hierarchies under its work dir;
    /// another crpod reading /proc/self/mounts then must not take them for new hierarchies.
    @Test func criuCgyardCopiesAreIgnored() throws {
        let mounts = try MountTable.parse("""
        cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
        cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
        none /var/tmp/x/restore-work/.criu.cgyard.KDEXhO/pids cgroup rw,relatime,pids 0 0
        none /var/tmp/x/restore-work/.criu.cgyard.KDEXhO/unified cgroup2 rw,relatime 0 0
        """)
        let layout = try CgroupLayout.detect(mounts: mounts)
        #expect(layout.hierarchies.map(\.mountPoint) == ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"])
        #expect(layout.mode == .hybrid)
    }

    /// A CRIU killed mid-restore on a hybrid host leaves its v1 yard mounted; a unified view
    /// (cgroup2 alone at /sys/fs/cgroup) must still read as v2.
    @Test func leakedV1YardDoesNotMakeAUnifiedViewHybrid() throws {
        let mounts = try MountTable.parse("""
        none /tmp/i/restore-work/.criu.cgyard.sx1BPJ/memory cgroup rw,relatime,memory 0 0
        none /tmp/i/restore-work/.criu.cgyard.sx1BPJ/unified cgroup2 rw,relatime 0 0
        none /sys/fs/cgroup cgroup2 rw,relatime 0 0
        """)
        let layout = try CgroupLayout.detect(mounts: mounts)
        #expect(layout.mode == .unified)
        #expect(layout.hierarchies.map(\.mountPoint) == ["/sys/fs/cgroup"])
    }
}
