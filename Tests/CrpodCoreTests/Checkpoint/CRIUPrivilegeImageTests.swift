import Testing
@testable import CrpodCore

/// Builders for the privilege images, on the proto field numbers of images/creds.proto,
/// core.proto, mnt.proto, seccomp.proto and userns.proto.
enum PrivilegeImageBytes {
    static func creds(uid: UInt64 = 0, capEff: [UInt64] = [0xA804_25FB, 0], noNewPrivs: UInt64 = 1, groups: [UInt64] = []) -> [UInt8] {
        let ids = (1...8).flatMap { ImageBytes.field(UInt64($0), uid) }
        let caps = [9, 10, 11, 12].flatMap { number in capEff.flatMap { ImageBytes.field(UInt64(number), $0) } }
        return ids + caps + ImageBytes.field(13, 0) + groups.flatMap { ImageBytes.field(14, $0) } + ImageBytes.field(18, noNewPrivs)
    }

    /// A `core_entry` with a `thread_core` holding `creds` and seccomp fields.
    static func core(creds: [UInt8]?, seccompMode: UInt64? = nil, filter: UInt64? = nil, taskMode: UInt64? = nil) -> [UInt8] {
        var thread = ImageBytes.field(1, 0) + ImageBytes.field(2, 24)
        if let creds { thread += ImageBytes.field(10, bytes: creds) }
        if let seccompMode { thread += ImageBytes.field(11, seccompMode) }
        if let filter { thread += ImageBytes.field(12, filter) }
        let task = ImageBytes.field(1, 1) + (taskMode.map { ImageBytes.field(11, $0) } ?? [])
        return ImageBytes.image(CRIUMagic.core, [ImageBytes.field(1, 1) + ImageBytes.field(3, bytes: task) + ImageBytes.field(5, bytes: thread)])
    }

    static func seccomp(_ programs: [([BPFInstruction], prev: UInt64?)]) -> [UInt8] {
        let filters = programs.flatMap { program, prev in
            ImageBytes.field(1, bytes: ImageBytes.field(1, bytes: program.flatMap(\.bytes)) + (prev.map { ImageBytes.field(2, $0) } ?? []))
        }
        return ImageBytes.image(CRIUMagic.seccomp, [filters])
    }
}

@Suite("CRIU privilege images")
struct CRIUPrivilegeImageTests {
    @Test func decodesARealCrpodCoreImage() throws {
        let core = try CRIUThreadCore.decode(realCoreRootTask, image: "core-1.img")
        let creds = try #require(core.credentials)
        #expect([creds.uid, creds.euid, creds.suid, creds.fsuid, creds.gid, creds.fsgid] == [0, 0, 0, 0, 0, 0])
        #expect(creds.capEff == [0xA804_25FB, 0])
        #expect(creds.capBnd == [0xA804_25FB, 0])
        #expect(creds.capInh == [0, 0] && creds.capAmb == [0, 0])
        #expect(creds.noNewPrivs == 1)
        #expect(core.seccompMode == nil, "CRIU leaves seccomp_mode out when it is disabled")
        #expect(core.rlimits.count == 16)
        #expect(core.rlimits[7] == CRIURlimit(cur: 20000, max: 20000), "RLIMIT_NOFILE as the spec set it")
        #expect(CapabilityNames.numbers(inWords: creds.capEff).map(CapabilityNames.name).contains("CAP_SYS_CHROOT"))
    }

    @Test func decodesRealCrpodMountpoints() throws {
        let mounts = try CRIUMountpoints.decode(realMountpoints, image: "mountpoints-14.img")
        let byPoint = Dictionary(mounts.map { ($0.mountpoint, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byPoint["/"]?.typeName == "overlay")
        #expect(byPoint["/proc/sys"]?.typeName == "proc")
        #expect(byPoint["/proc/sys"]?.root == "/sys")
        #expect(byPoint["/proc/sys"]?.isReadOnly == true)
        #expect(byPoint["/proc"]?.isReadOnly == false)
        #expect(byPoint["/sys"]?.isReadOnly == true)
        #expect(byPoint["/proc/keys"]?.extKey == "/dev/null")
        #expect(byPoint["/sys/fs/cgroup/memory"]?.typeName == "cgroup")
        #expect(mounts.count == 25)
    }

    @Test func decodesBuiltCredentialsAndTheTaskSeccompFallback() throws {
        let bytes = PrivilegeImageBytes.core(creds: PrivilegeImageBytes.creds(uid: 1000, groups: [5, 6]), filter: 3, taskMode: 2)
        let core = try CRIUThreadCore.decode(bytes, image: "core-9.img")
        #expect(core.credentials?.uid == 1000 && core.credentials?.fsuid == 1000)
        #expect(core.credentials?.groups == [5, 6])
        #expect(core.seccompMode == .filter, "the deprecated task_core field counts when thread_core has none")
        #expect(core.seccompFilter == 3)
    }

    @Test func followsAndBoundsSeccompChains() throws {
        let allow = [BPFInstruction(code: 0x06, k: SeccompBPF.retAllow)]
        let image = try CRIUSeccomp.decode(PrivilegeImageBytes.seccomp([(allow, nil), (allow, 0), (allow, 1)]))
        #expect(image.chain(from: 2)?.count == 3)
        #expect(image.chain(from: 3) == nil)
        let looping = try CRIUSeccomp.decode(PrivilegeImageBytes.seccomp([(allow, 1), (allow, 0)]))
        #expect(looping.chain(from: 0) == nil, "a loop CRIU would never leave")
        #expect(try CRIUSeccomp.decode(realSeccompEmpty).filters.isEmpty)
    }

    @Test func refusesBrokenImages() {
        #expect(throws: CheckpointProblem.self) { try CRIUThreadCore.decode(PrivilegeImageBytes.core(creds: nil, seccompMode: 9), image: "core-1.img") }
        #expect(throws: CheckpointProblem.self) { try CRIUThreadCore.decode(Array(realCoreRootTask.prefix(400)), image: "core-1.img") }
        #expect(throws: CheckpointProblem.self) { try CRIUMountpoints.decode(Array(realMountpoints.dropLast(3)), image: "m.img") }
        let ragged = ImageBytes.image(CRIUMagic.seccomp, [ImageBytes.field(1, bytes: ImageBytes.field(1, bytes: [1, 2, 3]))])
        #expect(throws: CheckpointProblem.self) { try CRIUSeccomp.decode(ragged) }
        #expect(throws: CheckpointProblem.self) {
            try RestoredImageFacts.read(imageNames: ["pstree.img"]) { $0 == "pstree.img" ? realPstreeTwoTasks : nil }
        }
    }

    @Test func survivesNoise() {
        var noise = NamespaceImageNoise(state: 0x5EED_C0DE)
        for image in [realCoreRootTask, realMountpoints, PrivilegeImageBytes.seccomp([([BPFInstruction(code: 6)], nil)])] {
            for _ in 0..<300 {
                var bytes = image
                for _ in 0..<4 { bytes[Int.random(in: 8..<bytes.count, using: &noise)] = UInt8.random(in: 0...255, using: &noise) }
                _ = try? CRIUThreadCore.decode(bytes, image: "x")
                _ = try? CRIUMountpoints.decode(bytes, image: "x")
                _ = try? CRIUSeccomp.decode(bytes).chain(from: 0)
                _ = try? CRIUUserNamespace.decode(bytes, image: "x")
            }
        }
    }
}
