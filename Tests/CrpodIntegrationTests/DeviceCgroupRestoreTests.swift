#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux
import Foundation
import Testing

/// The order a native engine follows: create the container's cgroup, apply the device policy,
/// then let CRIU restore the tasks into it (`--manage-cgroups=soft`). The policy must still be
/// in place afterwards, and it must hold for the restored container's cgroup.
@Suite("device cgroup: the policy holds across a CRIU restore without runc", .serialized,
       .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct DeviceCgroupRestoreTests {
    @Test("policy applied to pod B's new cgroup, then CRIU restores the counter there: same devices.list / filter, mem refused, null open")
    func policySurvivesTheRestore() async throws {
        try await withCrpod { crpod in
            let (source, criu) = try await NativeSubject.countingInPodA(crpod)
            try await criu.dump(try source.dumpOptions(base: crpod.base))
            let dumpedCount = try #require(source.count())

            let target = try await NativeTarget.prepare(crpod, pod: "pb", externalShm: false)
            let fixture = DeviceCgroupFixture(base: crpod.base, parent: target.cgroup, cgroup: target.cgroup, layout: target.cgroups.layout)
            do {
                try DeviceCgroup.apply(spec: try DeviceCgroupFixture.crpodSpec(), cgroup: target.cgroup, layout: target.cgroups.layout)
                let applied = try fixture.enforcement(of: target.cgroup)
                let pid = try await target.restore(try target.restoreOptions(for: source), with: criu)
                try await target.verify(pid, continuing: dumpedCount, crpod: crpod)
                #expect(try fixture.enforcement(of: target.cgroup) == applied, "CRIU left the policy as applied")
                #expect(DeviceCgroupTests.outcomes(try await fixture.runProbe(inCgroup: true)) == DeviceCgroupTests.enforced)
                try await target.cleanUp()
            } catch {
                try? await target.cleanUp()
                throw error
            }
            try await crpod.ok(["rm", "-f", "c"])
            try await crpod.ok(["pod", "rm", "-f", "pa", "pb"])
            #expect(try await crpod.leftovers() == [])
        }
    }
}
