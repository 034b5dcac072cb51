#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux
import Testing

/// The device policy a native engine puts on a container's cgroup (DeviceCgroup.apply), proven
/// on the kernel: in whatever cgroup mode the suite runs (contrib/test.sh runs it on the hybrid
/// host, where the v1 devices controller enforces it, and again with cgroup2 alone at
/// /sys/fs/cgroup, where runc's eBPF filter does), and against a container crpod runs with runc.
@Suite("device cgroup: crpod's device policy without runc, as runc enforces it", .serialized,
       .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct DeviceCgroupTests {
    /// Makes device nodes in directory $1 (mknod: allowed by runc's `c *:* m` and `b *:* m`),
    /// then opens each for reading and for writing and prints `<node> <r|w> ok|<error>`.
    static let probe = """
        d=$1; mkdir -p "$d"
        mknod "$d/null" c 1 3 && mknod "$d/mem" c 1 1 && mknod "$d/kmsg" c 1 11 && mknod "$d/tun" c 10 200 && mknod "$d/loop" b 7 0 || echo "mknod failed"
        for n in null mem kmsg tun loop; do
          if e=$( (exec 3<"$d/$n") 2>&1 ); then echo "$n r ok"; else echo "$n r $e"; fi
          if [ $n != loop ]; then if e=$( (exec 3>"$d/$n") 2>&1 ); then echo "$n w ok"; else echo "$n w $e"; fi; fi
        done
        echo "probe done"
        """

    /// crpod's spec (deny all, then runc's built-in devices): null and tun (10:200) open, /dev/mem
    /// (1:1), /dev/kmsg (1:11) and the block device loop0 (7:0) are refused with EPERM.
    static let enforced = [
        "null r": "ok", "null w": "ok", "tun r": "ok", "tun w": "ok",
        "mem r": "EPERM", "mem w": "EPERM", "kmsg r": "EPERM", "kmsg w": "EPERM", "loop r": "EPERM",
    ]

    /// The probe's lines as `"<node> <access>": ok | EPERM | ENXIO | <message>`.
    static func outcomes(_ output: String) -> [String: String] {
        var outcomes: [String: String] = [:]
        for line in output.split(separator: "\n") where line != "probe done" {
            let fields = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard fields.count == 3 else {
                outcomes[String(line)] = "unexpected line"
                continue
            }
            let message = fields[2]
            outcomes[fields[0] + " " + fields[1]] = message == "ok" ? "ok" : message.contains("Operation not permitted") ? "EPERM"
                : message.contains("No such device or address") ? "ENXIO" : message
        }
        return outcomes
    }

    @Test("the policy applied natively: null and tun open, mem, kmsg and a block device are refused with EPERM — and not without it")
    func nativePolicyIsEnforced() async throws {
        try await withDeviceCgroup { fixture in
            let applied = try DeviceCgroup.apply(spec: try DeviceCgroupFixture.crpodSpec(), cgroup: fixture.cgroup, layout: fixture.layout)
            switch applied {
            case .ebpf: #expect(fixture.layout.mode == .unified, "eBPF only where cgroup v2 alone is mounted")
            case let .v1(directory, writes):
                #expect(fixture.layout.mode != .unified && writes.first?.line == "a *:* rwm" && writes.count == 12)
                #expect(try Files.readText(directory + "/devices.list").split(separator: "\n").contains("c 10:200 rwm"))
            }
            let inside = try await fixture.runProbe(inCgroup: true)
            #expect(Self.outcomes(inside) == Self.enforced, "in the cgroup: \(inside)")
            let outside = try await fixture.runProbe(inCgroup: false)
            #expect(Self.outcomes(outside)["mem r"] == "ENXIO" && Self.outcomes(outside)["kmsg r"] == "ok" && Self.outcomes(outside)["loop r"] == "ok",
                    "without the policy the same nodes open (mem: no such device here): \(outside)")
        }
    }

    @Test("applying twice leaves one policy (v2: the old filter is detached); a bad rule is refused before anything is written")
    func reapplyingReplaces() async throws {
        try await withDeviceCgroup { fixture in
            let spec = try DeviceCgroupFixture.crpodSpec()
            try DeviceCgroup.apply(spec: spec, cgroup: fixture.cgroup, layout: fixture.layout)
            let again = try DeviceCgroup.apply(spec: spec, cgroup: fixture.cgroup, layout: fixture.layout)
            if case let .ebpf(directory, instructions, replaced) = again {
                #expect(replaced == 1 && instructions == DeviceFilterProgramListing.builtInLength)
                #expect(try DeviceCgroup.attachedFilterTags(directory: directory).count == 1)
            }
            #expect(Self.outcomes(try await fixture.runProbe(inCgroup: true)) == Self.enforced)
            let bad = [DeviceRule(type: .all, access: .rwm, allow: true), DeviceRule(type: .char, major: 1, access: .rwm, allow: false),
                       DeviceRule(type: .char, major: 1, minor: 3, access: .read, allow: true)]
            #expect(throws: DeviceCgroupError.rules(.cannotPunchHole(rule: "allow c 1:3 r", wildcard: "deny c 1:* rwm"))) {
                try DeviceCgroup.apply(rules: bad, cgroup: fixture.cgroup, layout: fixture.layout)
            }
            #expect(Self.outcomes(try await fixture.runProbe(inCgroup: true)) == Self.enforced, "the policy in place is untouched")
        }
    }

    @Test("runc and the native path agree: same outcomes in a container crpod runs, same devices.list (v1) or filter tag (v2)")
    func runcAgrees() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["run", "--name", "dev", "--rootfs", PrivilegedHost.rootfs, "--", "sh", "-c", Self.probe + "\nexec sleep 1000", "sh", "/dev/probe"])
            #expect(try await eventually { try await crpod.ok(["logs", "dev"]).contains("probe done") })
            let inContainer = try await crpod.ok(["logs", "dev"])
            #expect(Self.outcomes(inContainer) == Self.enforced, "runc's container: \(inContainer)")
            let view = try await crpod.json(ContainerJSON.self, ["inspect", "dev"])
            try await withDeviceCgroup { fixture in
                try DeviceCgroup.apply(spec: try DeviceCgroupFixture.crpodSpec(), cgroup: fixture.cgroup, layout: fixture.layout)
                #expect(Self.outcomes(try await fixture.runProbe(inCgroup: true)) == Self.outcomes(inContainer))
                let (runcPolicy, nativePolicy) = try (fixture.enforcement(of: view.cgroupPath), fixture.enforcement(of: fixture.cgroup))
                #expect(!runcPolicy.isEmpty && runcPolicy == nativePolicy, "runc: \(runcPolicy), native: \(nativePolicy)")
            }
            try await crpod.ok(["rm", "-f", "dev"])
        }
    }
}

enum DeviceFilterProgramListing {
    /// Instructions of the filter for runc's built-in devices: 6 loads, 2 blocks of 6, 8 of 5, 1 of 4, 2 to deny.
    static let builtInLength = 6 + 12 + 40 + 4 + 2
}
