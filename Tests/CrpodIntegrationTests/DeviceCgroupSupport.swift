#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux
import Testing

/// A cgroup of its own (`/crpod-dev-<random>/c` in every hierarchy) and a temp directory, for
/// putting a device policy on a cgroup and running the probe inside it.
struct DeviceCgroupFixture {
    let base: String
    /// Removed with everything below it at the end (by `withDeviceCgroup`).
    let parent: String
    /// Where the policy goes and the probe runs.
    let cgroup: String
    let layout: CgroupLayout
    let runner = ToolRunner()
    var cgroups: CgroupSet { CgroupSet(layout: layout) }

    /// The spec `crpod run` gives a container (its `linux.resources.devices`: deny all).
    static func crpodSpec() throws -> OCISpec {
        try SpecBuilder.build(ContainerSpecRequest(args: ["sh"], rootfsPath: "/", cgroupsPath: "/c"))
    }

    /// Runs DeviceCgroupTests.probe with /bin/sh on the host. `inCgroup`: the shell first moves
    /// itself into the cgroup (every hierarchy's cgroup.procs) before it makes or opens any node,
    /// so every command it forks starts there.
    func runProbe(inCgroup: Bool) async throws -> String {
        let dir = base + "/probe-" + ObjectIDs.random().prefix(8)
        try Files.makeDirectories(dir, mode: 0o700)
        let procsFiles = inCgroup ? try cgroups.procsFiles(cgroup) : []
        // Paths travel as positional parameters after the nodes directory, never inside the script.
        let join = procsFiles.isEmpty ? "" : "nodes=$1; shift; for f in \"$@\"; do echo $$ > \"$f\" || exit 9; done; set -- \"$nodes\"\n"
        let output = try await runner.run("/bin/sh", ["-c", join + DeviceCgroupTests.probe, "sh", dir + "/nodes"] + procsFiles)
        #expect(output.status == .exited(0), "probe: \(output.stderr)")
        return output.stdout
    }

    /// How the policy is held: the v1 devices.list lines, or the tags of the cgroup v2 device
    /// filters attached to the cgroup.
    func enforcement(of cgroup: String) throws -> [String] {
        if layout.mode == .unified, let v2 = cgroups.v2 {
            return try DeviceCgroup.attachedFilterTags(directory: v2.directory(cgroup))
        }
        let devices = try #require(cgroups.v1.first { $0.controllers.contains("devices") })
        return try Files.readText(devices.directory(cgroup) + "/devices.list").split(separator: "\n").map(String.init)
    }
}

/// Runs `body` with a new device cgroup fixture; afterwards kills what is left in the cgroup
/// and removes it and the temp directory.
func withDeviceCgroup(_ body: (DeviceCgroupFixture) async throws -> Void) async throws {
    if let reason = PrivilegedHost.missing { Issue.record("privileged test cannot run: \(reason)") }
    try #require(PrivilegedHost.missing == nil)
    let suffix = String(ObjectIDs.random().prefix(12))
    let fixture = DeviceCgroupFixture(base: "/tmp/crpod-dev-\(suffix)", parent: "/crpod-dev-\(suffix)", cgroup: "/crpod-dev-\(suffix)/c",
                                      layout: try CgroupLayout.current())
    try Files.makeDirectories(fixture.base, mode: 0o700)
    let cleanUp = {
        try? fixture.cgroups.killAndRemove(fixture.parent)
        try? Files.removeTree(fixture.base)
    }
    do {
        try fixture.cgroups.create(fixture.cgroup)
        try await body(fixture)
    } catch {
        cleanUp()
        throw error
    }
    cleanUp()
    #expect(fixture.cgroups.existingDirectories(fixture.parent).isEmpty, "the test cgroup is gone")
}
