import Testing
@testable import CrpodCore

@Suite("CRIU IPC images")
struct CRIUIPCImagesTests {
    /// The image directory of the crpod checkpoint the fixtures come from.
    static let realImageNames = [
        "cgroup.img", "core-10.img", "core-2.img", "core-7.img", "descriptors.json", "fdinfo-2.img",
        "fdinfo-3.img", "fdinfo-4.img", "files.img", "fs-10.img", "fs-2.img", "fs-7.img", "ids-10.img",
        "ids-2.img", "ids-7.img", "inventory.img", "ipcns-msg-11.img", "ipcns-sem-11.img", "ipcns-shm-11.img",
        "ipcns-var-11.img", "mm-10.img", "mm-2.img", "mm-7.img", "mountpoints-13.img", "netns-10.img",
        "pagemap-10.img", "pagemap-2.img", "pagemap-7.img", "pagemap-shmem-0.img", "pages-1.img", "pages-2.img",
        "pages-3.img", "pages-4.img", "pidns-9.img", "pstree.img", "seccomp.img", "timens-0.img",
        "tmpfs-dev-43.tar.gz.img", "tmpfs-dev-45.tar.gz.img", "utsns-12.img",
    ]

    @Test(arguments: [
        ("ipcns-shm-11.img", true), ("ipcns-msg-11.img", true), ("ipcns-sem-11.img", true),
        ("ipcns-shm-4026532178.img", true), ("checkpoint/ipcns-sem-0.img", true),
        ("ipcns-var-11.img", false), ("ipcns-shm-.img", false), ("ipcns-shm-11", false),
        ("ipcns-shm-11.img.orig", false), ("ipcns-shm-1x.img", false), ("ipcns-shm--1.img", false),
        ("ipcns-mq-11.img", false), ("pagemap-shmem-0.img", false), ("pages-shmem-3.img", false),
        ("pages-4.img", false), ("xipcns-shm-11.img", false), ("ipcns-shm-١١.img", false), ("", false),
    ])
    func classifiesImageNames(name: String, isObject: Bool) {
        #expect(CRIUIPCImages.isIPCObjectImage(name) == isObject)
    }

    @Test func findsTheObjectImagesOfARealCheckpointAndKeepsTheVariables() {
        let objects = CRIUIPCImages.objectImages(in: Self.realImageNames)
        #expect(objects == ["ipcns-msg-11.img", "ipcns-sem-11.img", "ipcns-shm-11.img"])
        #expect(Self.realImageNames.filter(CRIUIPCImages.isIPCVariablesImage) == ["ipcns-var-11.img"])
        #expect(CRIUIPCImages.objectImages(in: ["pstree.img", "ipcns-var-3.img"]).isEmpty)
    }

    @Test func decodesARealSharedMemorySegmentAndNamesItsPagemap() throws {
        let segments = try CRIUIPCImages.shmSegments(realIPCShm)
        #expect(segments == [CRIUShmSegment(id: 0, key: 0x1234, mode: 0o600, size: 5000, inPagemaps: true)])
        let pagemap = CRIUIPCImages.shmemPagemapImage(segmentID: segments[0].id)
        #expect(pagemap == "pagemap-shmem-0.img")
        #expect(Self.realImageNames.contains(pagemap))
    }

    @Test func skipsInlineContentsOfOldImages() throws {
        let first = Self.shmEntry(id: 3, key: 7, size: 5, inPagemaps: nil)
        let second = Self.shmEntry(id: 4, key: 8, size: 0, inPagemaps: false)
        let image = ImageBytes.image(CRIUMagic.ipcnsShm, [first]) + [1, 2, 3, 4, 5, 0, 0, 0]
            + ImageBytes.word(UInt32(second.count)) + second
        let segments = try CRIUIPCImages.shmSegments(image)
        #expect(segments.map(\.id) == [3, 4])
        #expect(segments.map(\.inPagemaps) == [false, false])
    }

    @Test(arguments: [
        ("contents past the end", CRIUIPCImagesTests.shmEntry(id: 1, key: 1, size: 9, inPagemaps: false),
         [UInt8](repeating: 0, count: 9)),
        ("huge size", CRIUIPCImagesTests.shmEntry(id: 1, key: 1, size: UInt64.max, inPagemaps: nil), []),
        ("no id", ImageBytes.field(1, bytes: ImageBytes.field(1, 1) + ImageBytes.field(6, 0o600)) + ImageBytes.field(2, 1), []),
        ("no size", ImageBytes.field(1, bytes: ImageBytes.field(1, 1) + ImageBytes.field(6, 0) + ImageBytes.field(7, 1)), []),
        ("key over 32 bits", CRIUIPCImagesTests.shmEntry(id: 1, key: 1 << 33, size: 0, inPagemaps: true), []),
    ] as [(String, [UInt8], [UInt8])])
    func impossibleSegmentsFail(_ name: String, entry: [UInt8], after: [UInt8]) {
        #expect(throws: CheckpointProblem.self, "\(name)") {
            try CRIUIPCImages.shmSegments(ImageBytes.image(CRIUMagic.ipcnsShm, [entry]) + after)
        }
    }

    @Test func anotherImageAndTruncationsFail() throws {
        let wrong = CheckpointProblem.wrongMagic(image: "ipcns-shm.img", expected: CRIUMagic.ipcnsShm, found: CRIUMagic.ipcnsMsg)
        #expect(throws: wrong) {
            try CRIUIPCImages.shmSegments(realIPCMsg)
        }
        for length in 9..<realIPCShm.count {
            let prefix = Array(realIPCShm.prefix(length))
            #expect(throws: CheckpointProblem.self, "length \(length)") { try CRIUIPCImages.shmSegments(prefix) }
        }
        #expect(try CRIUIPCImages.shmSegments(Array(realIPCShm.prefix(8))).isEmpty)
    }

    @Test func mutatedAndRandomInputNeverCrashes() {
        var noise = NamespaceImageNoise(state: 0x0DDB_1A5E_5BAD_5EED)
        for index in 0..<realIPCShm.count {
            for value: UInt8 in [0x00, 0x7f, 0x80, 0xff] {
                var image = realIPCShm
                image[index] = value
                _ = try? CRIUIPCImages.shmSegments(image)
            }
        }
        for _ in 0..<2000 {
            let image = ImageBytes.image(CRIUMagic.ipcnsShm, [noise.bytes(upTo: 48)]) + noise.bytes(upTo: 16)
            _ = try? CRIUIPCImages.shmSegments(image)
        }
    }

    /// An `ipc_shm_entry` with uid, gid, cuid, cgid 0 and mode 0600.
    static func shmEntry(id: UInt64, key: UInt64, size: UInt64, inPagemaps: Bool?) -> [UInt8] {
        let desc = ImageBytes.field(1, key) + (2...5).flatMap { ImageBytes.field($0, 0) } + ImageBytes.field(6, 0o600)
            + ImageBytes.field(7, id)
        let flag = inPagemaps.map { ImageBytes.field(3, $0 ? 1 : 0) } ?? []
        return ImageBytes.field(1, bytes: desc) + ImageBytes.field(2, size) + flag
    }
}
