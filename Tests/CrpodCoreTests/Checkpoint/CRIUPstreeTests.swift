import Testing
@testable import CrpodCore

@Suite("CRIU pstree image")
struct CRIUPstreeTests {
    @Test func decodesARealThreeTaskContainer() throws {
        let tree = try CRIUPstree.decode(realPstreeThreeTasks)
        #expect(tree.entries == [
            PstreeEntry(pid: 2, ppid: 0, pgid: 2, sid: 2, threads: [2]),
            PstreeEntry(pid: 7, ppid: 2, pgid: 2, sid: 2, threads: [7]),
            PstreeEntry(pid: 10, ppid: 2, pgid: 2, sid: 2, threads: [10]),
        ])
        #expect(tree.allPIDs == [2, 7, 10])
        #expect(tree.helperPIDs.isEmpty)
        #expect(tree.root?.pid == 2)
    }

    @Test func decodesARealPodmanPodMember() throws {
        let tree = try CRIUPstree.decode(podmanPstreeTwoTasks)
        #expect(tree.entries.map(\.pid) == [6, 13])
        #expect(tree.entries.map(\.ppid) == [0, 6])
        #expect(tree.allPIDs == [6, 13])
    }

    @Test func countsThreadsAndGroupsAndSessionsWithoutTheirOwnTask() throws {
        let image = ImageBytes.image(CRIUMagic.pstree, [
            ImageBytes.pstreeEntry(5, 0, 5, 1, threads: [5, 8]),
            ImageBytes.pstreeEntry(9, 5, 20, 1, threads: [9]),
            ImageBytes.pstreeEntry(11, 5, 0, 0, threads: [11]),
        ])
        let tree = try CRIUPstree.decode(image)
        #expect(tree.allPIDs == [1, 5, 8, 9, 11, 20])
        #expect(tree.helperPIDs == [1, 20])
    }

    @Test func acceptsPackedThreadsAndSkipsUnknownFields() throws {
        let packed = ImageBytes.field(5, bytes: ImageBytes.varint(3) + ImageBytes.varint(300) + ImageBytes.varint(70_000))
        let entry = ImageBytes.pstreeEntry(3, 0, 3, 3, threads: []) + packed + ImageBytes.field(9, bytes: [1, 2])
            + ImageBytes.field(6, 4)
        let tree = try CRIUPstree.decode(ImageBytes.image(CRIUMagic.pstree, [entry]))
        #expect(tree.entries == [PstreeEntry(pid: 3, ppid: 0, pgid: 3, sid: 3, threads: [3, 300, 70_000])])
    }

    @Test func aMissingRequiredFieldIsNamed() {
        let entry = ImageBytes.field(1, 4) + ImageBytes.field(2, 0) + ImageBytes.field(5, 4)
        let problem = CheckpointProblem.malformedImage(
            image: CRIUPstree.imageName, offset: 12, reason: "pstree_entry lacks required pgid, sid")
        #expect(throws: problem) { try CRIUPstree.decode(ImageBytes.image(CRIUMagic.pstree, [entry])) }
    }

    @Test(arguments: [
        ("pid over Int32.max", ImageBytes.pstreeEntry(0x8000_0000, 0, 1, 1, threads: [1])),
        ("pid over 32 bits", ImageBytes.pstreeEntry(1 << 40, 0, 1, 1, threads: [1])),
        ("pid as bytes", ImageBytes.field(1, bytes: [1]) + ImageBytes.pstreeEntry(1, 0, 1, 1, threads: []).dropFirst(2)),
        ("packed threads truncated", ImageBytes.pstreeEntry(1, 0, 1, 1, threads: []) + [0x2a, 0x01, 0x80]),
        ("fixed32 pid", [0x0d, 1, 0, 0, 0] + ImageBytes.pstreeEntry(1, 0, 1, 1, threads: []).dropFirst(2)),
    ] as [(String, [UInt8])])
    func impossibleValuesFail(_ name: String, entry: [UInt8]) {
        #expect(throws: CheckpointProblem.self, "\(name)") { try CRIUPstree.decode(ImageBytes.image(CRIUMagic.pstree, [entry])) }
    }

    @Test func anEmptyTreeAndAnotherImageFail() {
        #expect(throws: CheckpointProblem.malformedImage(
            image: CRIUPstree.imageName, offset: 8, reason: "no pstree_entry (an empty process tree)")) {
            try CRIUPstree.decode(Array(realPstreeThreeTasks.prefix(8)))
        }
        let wrong = CheckpointProblem.wrongMagic(image: CRIUPstree.imageName, expected: CRIUMagic.pstree, found: CRIUMagic.utsns)
        #expect(throws: wrong) {
            try CRIUPstree.decode(realUtsnsPodhost)
        }
    }

    /// Cutting inside an entry is an error; cutting between entries leaves a shorter tree,
    /// as CRIU's own reader would see it.
    @Test func everyTruncationFailsOrEndsAtAnEntryBoundary() throws {
        let boundaries = [22: 1, 36: 2]
        for length in 0..<realPstreeThreeTasks.count {
            let prefix = Array(realPstreeThreeTasks.prefix(length))
            if let count = boundaries[length] {
                #expect(try CRIUPstree.decode(prefix).entries.count == count)
            } else {
                #expect(throws: CheckpointProblem.self, "length \(length)") { try CRIUPstree.decode(prefix) }
            }
        }
    }

    @Test func mutatedAndRandomInputNeverCrashes() {
        var noise = NamespaceImageNoise(state: 0x2545_F491_4F6C_DD1D)
        for index in 0..<realPstreeThreeTasks.count {
            for value: UInt8 in [0x00, 0x7f, 0x80, 0xff] {
                var image = realPstreeThreeTasks
                image[index] = value
                _ = try? CRIUPstree.decode(image)
            }
        }
        for _ in 0..<2000 {
            let body = noise.bytes(upTo: 48)
            _ = try? CRIUPstree.decode(ImageBytes.image(CRIUMagic.pstree, [body]))
            _ = try? CRIUPstree.decode(Array(realPstreeThreeTasks.prefix(8)) + body)
        }
    }
}
