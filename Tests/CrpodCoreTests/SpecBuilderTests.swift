import Testing
@testable import CrpodCore

private func request(
    join: [String: String] = [:], private privateTypes: [String]? = nil, hostname: String? = "box"
) -> ContainerSpecRequest {
    ContainerSpecRequest(
        args: ["/bin/sleep", "infinity"], rootfsPath: "/var/lib/crpod/c1/rootfs", hostname: hostname,
        joinNamespaces: join, privateNamespaces: privateTypes, cgroupsPath: "/crpod.slice/c1")
}

private let infraJoins = [
    "ipc": "/proc/42/ns/ipc", "network": "/proc/42/ns/net", "uts": "/proc/42/ns/uts",
]

@Suite("SpecBuilder")
struct SpecBuilderTests {
    @Test func runcSpecShape() throws {
        let spec = try SpecBuilder.build(request())
        let json = spec.json
        #expect(json["ociVersion"] == "1.0.2-dev")
        #expect(json.value(atPath: ["process", "terminal"]) == false)
        #expect(json.value(atPath: ["process", "user"]) == ["uid": 0, "gid": 0])
        #expect(json.value(atPath: ["process", "cwd"]) == "/")
        #expect(json.value(atPath: ["process", "noNewPrivileges"]) == true)
        #expect(json.value(atPath: ["process", "rlimits"]) == nil, "no rlimits requested, none written")
        #expect(json["root"] == ["path": "/var/lib/crpod/c1/rootfs", "readonly": false])
        #expect(spec.processArgs == ["/bin/sleep", "infinity"])
        #expect(spec.processEnv == [SpecBuilder.defaultPath, "TERM=xterm"])
        #expect(spec.cgroupsPath == "/crpod.slice/c1")
        #expect(json.value(atPath: ["linux", "resources"]) == ["devices": [["allow": false, "access": "rwm"]]])
        #expect(json.value(atPath: ["linux", "maskedPaths"])?.stringArrayValue?.contains("/proc/kcore") == true)
        #expect(json.value(atPath: ["linux", "readonlyPaths"])?.stringArrayValue?.contains("/proc/sys") == true)
        #expect(json["annotations"] == nil)
    }

    @Test func capabilitiesIncludeRuncAndPodmanDefaults() throws {
        let caps = try SpecBuilder.build(request()).json.value(atPath: ["process", "capabilities"])
        let bounding = caps?["bounding"]?.stringArrayValue ?? []
        #expect(bounding.count == 14)
        for cap in ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_SYS_CHROOT", "CAP_MKNOD"] {
            #expect(bounding.contains(cap))
        }
        #expect(caps?["effective"]?.stringArrayValue == bounding)
        #expect(caps?["permitted"]?.stringArrayValue == bounding)
    }

    @Test func mountsMatchRuncSpec() throws {
        let mounts = try SpecBuilder.build(request()).json["mounts"]?.arrayValue ?? []
        #expect(mounts.compactMap { $0["destination"]?.stringValue } == [
            "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup",
        ])
        #expect(mounts[2]["options"]?.stringArrayValue == [
            "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
        ])
        #expect(mounts[6] == [
            "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        ])
    }

    @Test func privateUTSGetsHostname() throws {
        #expect(try SpecBuilder.build(request()).hostname == "box")
        #expect(try SpecBuilder.build(request(hostname: nil)).json["hostname"] == nil)
    }

    @Test func joinedUTSHasNoHostnameKey() throws {
        let spec = try SpecBuilder.build(request(join: infraJoins))
        #expect(spec.json["hostname"] == nil)
        #expect(spec.namespacePath(type: "uts") == "/proc/42/ns/uts")
    }

    @Test func namespacesMountFirstThenPrivateThenJoined() throws {
        let spec = try SpecBuilder.build(request(join: infraJoins))
        #expect(spec.namespaces == [
            OCINamespace(type: "mount"),
            OCINamespace(type: "pid"),
            OCINamespace(type: "cgroup"),
            OCINamespace(type: "ipc", path: "/proc/42/ns/ipc"),
            OCINamespace(type: "network", path: "/proc/42/ns/net"),
            OCINamespace(type: "uts", path: "/proc/42/ns/uts"),
        ])
    }

    @Test func explicitPrivateListIsDeduplicatedAndSorted() throws {
        let spec = try SpecBuilder.build(request(private: ["uts", "mount", "ipc", "uts"]))
        #expect(spec.namespaces.map(\.type) == ["mount", "ipc", "uts"])
        #expect(spec.namespaces.allSatisfy { $0.path == nil })
    }

    @Test func buildIsDeterministic() throws {
        let first = try SpecBuilder.build(request(join: infraJoins)).data()
        let second = try SpecBuilder.build(request(join: infraJoins)).data()
        #expect(first == second)
    }

    @Test func envDefaultsOnlyWhenMissing() {
        #expect(SpecBuilder.environment(["PATH=/bin", "A=1"]) == ["TERM=xterm", "PATH=/bin", "A=1"])
        #expect(SpecBuilder.environment(["TERM=dumb"]) == [SpecBuilder.defaultPath, "TERM=dumb"])
        #expect(SpecBuilder.environment(["PATHX=1"]).first == SpecBuilder.defaultPath)
    }

    @Test func rlimitsAndAnnotations() throws {
        var req = request()
        req.rlimits = [RLimit(type: "RLIMIT_NOFILE", soft: 1024, hard: UInt64.max)]
        req.annotations = ["io.crpod.pod": "web"]
        let spec = try SpecBuilder.build(req)
        #expect(spec.json.value(atPath: ["process", "rlimits"]) == [
            ["type": "RLIMIT_NOFILE", "soft": 1024, "hard": .uint(UInt64.max)],
        ])
        #expect(spec.annotations == ["io.crpod.pod": "web"])
        let reparsed = try OCISpec(data: spec.data(), context: "built")
        #expect(reparsed == spec)
    }

    @Test(arguments: [
        (ContainerSpecRequest(args: [], rootfsPath: "/r", cgroupsPath: "/c"), CoreError.emptyProcessArgs),
        (ContainerSpecRequest(args: ["x"], workdir: "tmp", rootfsPath: "/r", cgroupsPath: "/c"),
         .pathNotAbsolute(field: "workdir", path: "tmp")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "rootfs", cgroupsPath: "/c"),
         .pathNotAbsolute(field: "rootfs path", path: "rootfs")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "/r", cgroupsPath: "crpod.slice:c1"),
         .pathNotAbsolute(field: "cgroups path", path: "crpod.slice:c1")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "/r", joinNamespaces: ["uts": "/p"],
                              privateNamespaces: ["uts"], cgroupsPath: "/c"),
         .namespaceJoinedAndPrivate(type: "uts")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "/r", joinNamespaces: ["mount": "/p"], cgroupsPath: "/c"),
         .namespaceJoinedAndPrivate(type: "mount")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "/r", joinNamespaces: ["ipc": ""], cgroupsPath: "/c"),
         .emptyNamespacePath(type: "ipc")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "/r", joinNamespaces: ["net": "/p"], cgroupsPath: "/c"),
         .unknownNamespaceType("net")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "/r", privateNamespaces: ["mnt"], cgroupsPath: "/c"),
         .unknownNamespaceType("mnt")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "/r", cgroupsPath: "/c",
                              rlimits: [RLimit(type: "RLIMIT_NOFILE", soft: 2, hard: 1)]),
         .invalidRLimit(type: "RLIMIT_NOFILE", reason: "soft limit 2 exceeds hard limit 1")),
        (ContainerSpecRequest(args: ["x"], rootfsPath: "/r", cgroupsPath: "/c",
                              rlimits: [RLimit(type: "NOFILE", soft: 1, hard: 1)]),
         .invalidRLimit(type: "NOFILE", reason: "type must look like RLIMIT_NOFILE")),
    ])
    func validation(_ request: ContainerSpecRequest, _ expected: CoreError) {
        #expect(throws: expected) { _ = try SpecBuilder.build(request) }
        #expect(!expected.description.contains("\n"))
    }

    @Test func defaultPrivateExcludesJoined() {
        let req = request(join: ["network": "/proc/1/ns/net"])
        #expect(req.privateNamespaces == ["ipc", "pid", "uts", "cgroup"])
    }

    // MARK: /dev/shm: runc's private tmpfs, or a bind of the pod's shared shm directory

    static let privateShm: JSONValue = [
        "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    ]

    @Test func withoutASourceDevShmIsRuncsPrivateTmpfs() throws {
        let mounts = try SpecBuilder.build(request(join: infraJoins)).json["mounts"]?.arrayValue ?? []
        #expect(mounts.filter { $0["destination"] == "/dev/shm" } == [Self.privateShm])
        #expect(SpecBuilder.mounts(devShmSource: nil) == .array(mounts))
    }

    /// The source as given (podman's pod member bind), whatever the spec's namespaces are; every
    /// other mount, and every other part of the spec, is what the same request without it builds.
    @Test(arguments: [
        ("/run/crpod/pods/p1/shm-fs/shm", infraJoins),
        ("/var/lib/crpod/containers/c1/mounts/dev-shm", [:]),
        ("/run/a dir with spaces/shm", ["ipc": "/proc/42/ns/ipc"]),
    ])
    func aSourceBindsDevShmAndChangesNothingElse(_ source: String, _ joins: [String: String]) throws {
        var shared = request(join: joins)
        shared.devShmSource = source
        let plain = try SpecBuilder.build(request(join: joins)).json
        let built = try SpecBuilder.build(shared).json
        let before = plain["mounts"]?.arrayValue ?? []
        let after = built["mounts"]?.arrayValue ?? []
        let bind: JSONValue = [
            "destination": "/dev/shm", "type": "bind", "source": .string(source),
            "options": ["bind", "rprivate", "nosuid", "noexec", "nodev"],
        ]
        let index = try #require(before.firstIndex(of: Self.privateShm))
        #expect(after.count == before.count)
        #expect(after[index] == bind)
        #expect(after.enumerated().filter { $0.offset != index }.map(\.element)
            == before.enumerated().filter { $0.offset != index }.map(\.element), "the other mounts, in order")
        var rest = built, plainRest = plain
        rest.setValue(nil, atPath: ["mounts"])
        plainRest.setValue(nil, atPath: ["mounts"])
        #expect(rest == plainRest)
        #expect(SpecBuilder.mounts(devShmSource: source) == .array(after))
    }
}
