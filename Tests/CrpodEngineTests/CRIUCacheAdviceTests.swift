import CrpodLinux
import Testing
@testable import CrpodEngine

@Suite("crpod check: CRIU's kernel-data cache")
struct CRIUCacheAdviceTests {
    @Test func aRunThatIsNotTmpfsIsAdvisedAgainst() {
        let fact = CRIUCacheAdvice.fact(.init(runFileSystem: "ext4", cacheExists: false, leftoverAge: 4000))
        #expect(!fact.ok && !fact.required)
        #expect(fact.detail.contains("/run is ext4, not tmpfs") && fact.detail.contains("35 ms"))
        #expect(fact.fix?.contains("tmpfs") == true)
    }

    @Test func aCacheOnTmpfsIsFineAndANewOneIsComing() {
        #expect(CRIUCacheAdvice.fact(.init(runFileSystem: "tmpfs", cacheExists: true, leftoverAge: 9999)).ok)
        let fresh = CRIUCacheAdvice.fact(.init(runFileSystem: "tmpfs", cacheExists: false, leftoverAge: nil))
        #expect(fresh.ok && fresh.detail.contains("not written yet"))
        // A .tmp this young may be a criu writing the cache right now.
        #expect(CRIUCacheAdvice.fact(.init(runFileSystem: "tmpfs", cacheExists: false, leftoverAge: 2)).ok)
    }

    @Test func anOldLeftoverTmpIsNamedWithTheFix() {
        let fact = CRIUCacheAdvice.fact(.init(runFileSystem: "tmpfs", cacheExists: false, leftoverAge: 3600))
        #expect(!fact.ok)
        #expect(fact.detail.contains("/run/criu.kdat.tmp") && fact.detail.contains("3600 s ago"))
        #expect(fact.fix == "rm /run/criu.kdat.tmp")
    }

    @Test func theMountHoldingRunIsTheLongestLastOne() throws {
        let mounts = try MountTable.parse("""
            /dev/vda1 / ext4 rw 0 0
            tmpfs /run tmpfs rw 0 0
            none /run ext4 rw 0 0
            tmpfs /run/lock tmpfs rw 0 0
            tmpfs /running tmpfs rw 0 0
            """)
        #expect(CRIUCacheAdvice.fileSystem(holding: "/run", in: mounts) == "ext4")
        #expect(CRIUCacheAdvice.fileSystem(holding: "/run", in: Array(mounts.prefix(2))) == "tmpfs")
        #expect(CRIUCacheAdvice.fileSystem(holding: "/run", in: [mounts[0], mounts[4]]) == "ext4")
        #expect(CRIUCacheAdvice.fileSystem(holding: "/run", in: []) == nil)
    }
}

@Suite("crpod check: the cgroup yard")
struct CgroupYardAdviceTests {
    @Test func aYardWithEveryListedHierarchyIsFine() {
        let fact = CgroupYardAdvice.fact(listed: ["memory", "systemd", "unified"], missing: [], root: "/run/crpod/cgroup-yard")
        #expect(fact.ok && fact.detail.contains("3 hierarchies") && fact.detail.contains("/run/crpod/cgroup-yard"))
    }

    @Test func hierarchiesThisNamespaceDoesNotMountAreNamed() {
        // The cgroup-v2 view of a hybrid host: the kernel still lists the v1 hierarchies.
        let fact = CgroupYardAdvice.fact(listed: ["memory", "pids", "unified"], missing: ["memory", "pids"], root: "/r")
        #expect(!fact.ok && !fact.required)
        #expect(fact.detail.contains("memory pids") && fact.detail.contains("frozen"))
        #expect(fact.fix != nil)
    }
}
