import Testing
@testable import CrpodCore

/// `stats-dump` written by CRIU 4.1.1 (through runc 1.1.5) checkpointing a small process.
let realStatsDump: [UInt8] = [
    0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57, 0x23, 0x00, 0x00, 0x00,
    0x0a, 0x21, 0x08, 0xd9, 0x07, 0x10, 0x96, 0xd6, 0x0a, 0x18, 0xa0, 0x0d,
    0x20, 0x8a, 0x02, 0x28, 0x2f, 0x30, 0x00, 0x38, 0x21, 0x40, 0x00, 0x48,
    0x00, 0x50, 0x08, 0x58, 0x08, 0x60, 0x00, 0x68, 0x00, 0x70, 0x00,
]

/// `inventory.img` from the same checkpoint (images v1.1, no LSM).
let realInventory: [UInt8] = [
    0x16, 0x31, 0x31, 0x58, 0x4e, 0x00, 0x00, 0x00, 0x08, 0x02, 0x10, 0x01,
    0x1a, 0x18, 0x08, 0x01, 0x10, 0x01, 0x18, 0x01, 0x20, 0x01, 0x28, 0x01,
    0x30, 0x02, 0x38, 0x03, 0x40, 0x04, 0x48, 0x06, 0x50, 0x07, 0x58, 0x08,
    0x60, 0x05, 0x20, 0x01, 0x28, 0x01, 0x30, 0x00, 0x58, 0x00, 0x62, 0x00,
    0x6a, 0x24, 0x38, 0x39, 0x34, 0x63, 0x64, 0x64, 0x37, 0x32, 0x2d, 0x61,
    0x66, 0x63, 0x35, 0x2d, 0x34, 0x63, 0x62, 0x36, 0x2d, 0x61, 0x39, 0x39,
    0x66, 0x2d, 0x64, 0x34, 0x34, 0x34, 0x37, 0x65, 0x37, 0x35, 0x64, 0x61,
    0x39, 0x30,
]

/// The stats header (service magic, stats magic) and a length word for `body`.
private func statsImage(_ body: [UInt8]) -> [UInt8] {
    let length = UInt32(body.count)
    let lengthBytes = (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * UInt32($0))) }
    return [0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57] + lengthBytes + body
}

/// A deterministic generator (xorshift) so "random" inputs are the same on every run.
private struct XorShift: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

@Suite("CRIU images")
struct CRIUImagesTests {
    @Test func decodesARealStatsDump() throws {
        let (dump, restore) = try CRIUStatsDecoder.decode(realStatsDump)
        let stats = try #require(dump)
        #expect(restore == nil)
        #expect(stats.freezingTime == 985)
        #expect(stats.frozenTime == 174_870)
        #expect(stats.memdumpTime == 1696)
        #expect(stats.memwriteTime == 266)
        #expect(stats.pagesScanned == 47)
        #expect(stats.pagesSkippedParent == 0)
        #expect(stats.pagesWritten == 33)
        #expect(stats.pagePipes == 8)
        #expect(stats.pagePipeBufs == 8)
        #expect(stats.shpagesWritten == 0)
    }

    @Test func decodesRestoreStatsAndSkipsUnknownFields() throws {
        let restore: [UInt8] = [0x08, 0x05, 0x10, 0x00, 0x18, 0xc8, 0x01, 0x20, 0xe8, 0x07, 0x28, 0x05,
                                0x78, 0x2a, 0x82, 0x01, 0x02, 0xff, 0xff, 0x35, 1, 2, 3, 4, 0x39, 1, 2, 3, 4, 5, 6, 7, 8]
        let body: [UInt8] = [0x12, UInt8(restore.count)] + restore + [0x1a, 0x01, 0x00, 0x20, 0x07]
        let stats = try CRIUStatsDecoder.decodeStats(statsImage(body), image: "stats-restore")
        #expect(stats.dump == nil)
        let counters = try #require(stats.restore)
        #expect(counters.pagesCompared == 5)
        #expect(counters.forkingTime == 200)
        #expect(counters.restoreTime == 1000)
        #expect(counters.pagesRestored == 5)
    }

    @Test func acceptsAStatsImageWithoutTheServiceHead() throws {
        let stats = try CRIUStatsDecoder.decodeStats(Array(realStatsDump.dropFirst(4)))
        #expect(stats.dump?.pagesWritten == 33)
    }

    @Test func rejectsAnotherImagesMagic() {
        #expect(throws: CheckpointProblem.wrongMagic(image: "stats-dump", expected: CRIUMagic.service, found: CRIUMagic.inventory)) {
            try CRIUStatsDecoder.decode(realInventory)
        }
        #expect(throws: CheckpointProblem.wrongMagic(image: "stats-dump", expected: CRIUMagic.service, found: nil)) {
            try CRIUStatsDecoder.decode([0x40, 0x59])
        }
    }

    @Test func everyTruncationIsAnErrorNotACrash() {
        for length in 0..<realStatsDump.count {
            #expect(throws: CheckpointProblem.self) { try CRIUStatsDecoder.decode(Array(realStatsDump.prefix(length))) }
        }
        for length in 0..<realInventory.count {
            #expect(throws: CheckpointProblem.self) { try CRIUInventoryDecoder.decode(Array(realInventory.prefix(length))) }
        }
    }

    @Test(arguments: [
        ("overlong varint", [0x08] + [UInt8](repeating: 0xff, count: 10) + [0x01]),
        ("varint over 64 bits", [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
        ("field number zero", [0x00, 0x01]),
        ("group wire type", [0x0b, 0x0c]),
        ("length past the end", [0x0a, 0x7f, 0x08]),
        ("huge length", [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        ("nested message truncated", [0x0a, 0x02, 0x08, 0x80]),
        ("dump field of the wrong wire type", [0x0a, 0x05, 0x0d, 0x00, 0x00, 0x00, 0x00]),
        ("dump entry that is a varint", [0x08, 0x01]),
    ] as [(String, [UInt8])])
    func hostileStatsBodiesFail(_ name: String, body: [UInt8]) {
        #expect(throws: CheckpointProblem.self, "\(name)") { try CRIUStatsDecoder.decode(statsImage(body)) }
    }

    @Test func aLengthWordBeyondTheDataFails() {
        var image = realStatsDump
        image[8] = 0xff
        image[11] = 0xff
        #expect(throws: CheckpointProblem.self) { try CRIUStatsDecoder.decode(image) }
    }

    @Test func mutatedAndRandomInputNeverCrashes() {
        var generator = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        for index in 0..<realStatsDump.count {
            for value: UInt8 in [0x00, 0x7f, 0x80, 0xff] {
                var image = realStatsDump
                image[index] = value
                _ = try? CRIUStatsDecoder.decode(image)
            }
        }
        for _ in 0..<2000 {
            let length = Int(generator.next() % 64)
            let body = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            _ = try? CRIUStatsDecoder.decode(statsImage(body))
            _ = try? CRIUInventoryDecoder.decode([0x16, 0x31, 0x31, 0x58] + statsImage(body).dropFirst(8))
        }
    }

    @Test func decodesARealInventory() throws {
        let inventory = try CRIUInventoryDecoder.decode(realInventory)
        #expect(inventory.imageVersion == 2)
        #expect(inventory.fdinfoPerID == true)
        #expect(inventory.nsPerID == true)
        #expect(inventory.rootCgroupSet == 1)
        #expect(inventory.lsmType == 0)
        #expect(inventory.lsmName == "none")
        #expect(inventory.networkLockMethod == 0)
    }

    @Test func anInventoryWithoutImageVersionFails() {
        let image: [UInt8] = [0x16, 0x31, 0x31, 0x58, 0x02, 0x00, 0x00, 0x00, 0x30, 0x01]
        #expect(throws: CheckpointProblem.malformedImage(image: "checkpoint/inventory.img", offset: 4, reason: "no img_version (field 1)")) {
            try CRIUInventoryDecoder.decode(image)
        }
    }

    @Test func describesProblemsOnOneLine() {
        let problem = CheckpointProblem.wrongMagic(image: "stats-dump", expected: CRIUMagic.stats, found: 0x1234)
        #expect(problem.description == "CRIU image stats-dump: expected magic 0x57093306, found 0x00001234")
    }
}

@Suite("CRIU log version")
struct CRIULogVersionTests {
    static let runcDumpLog = """
        (00.000000) CRIU run id = e633a1fe-1a6c-4f68-bc4a-65765177e3a1
        (00.000000) CRIU run id = 894cdd72-afc5-4cb6-a99f-d4447e75da90
        (00.000211) Version: 4.1.1 (gitid 0)
        (00.000217) Running on vm Linux 6.18.44-fc-v657 #1 SMP PREEMPT_DYNAMIC @0 x86_64
        (00.000219) Would overwrite RPC settings with values from /etc/criu/runc.conf
        """

    @Test(arguments: [
        (runcDumpLog, "4.1.1", 40101),
        ("(00.000100) Version: 3.17 (gitid v3.17)\n", "3.17", 31700),
        ("(00.000100) Version: 3.16.1\n", "3.16.1", 31601),
        ("Version: 4.0\n", "4.0", 40000),
    ])
    func findsTheVersion(log: String, text: String, number: Int) throws {
        let version = try #require(CRIULogVersion.parse(log))
        #expect(version == CRIULogVersion(text: text, number: number))
    }

    @Test(arguments: [
        "",
        "(00.000000) CRIU run id = x\n(00.000001) Running on vm\n",
        "Version: four\n",
        "Version: 4\n",
        "Version: 4.100.1\n",
        "Version: 1.2.3.4\n",
    ])
    func findsNothingInOtherText(log: String) {
        #expect(CRIULogVersion.parse(log) == nil)
    }

    @Test func looksOnlyAtTheFirstLines() {
        let late = String(repeating: "(00.1) noise\n", count: CRIULogVersion.searchedLines) + "Version: 4.1.1\n"
        #expect(CRIULogVersion.parse(late) == nil)
    }
}
