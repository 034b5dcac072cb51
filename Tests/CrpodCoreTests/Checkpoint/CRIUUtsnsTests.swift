import Testing
@testable import CrpodCore

@Suite("CRIU utsns image")
struct CRIUUtsnsTests {
    @Test func decodesRealImages() throws {
        #expect(try CRIUUtsns.decode(realUtsnsPodhost) == CRIUUtsnsEntry(nodename: "podhost", domainname: "(none)"))
        let podman = CRIUUtsnsEntry(nodename: "crpod-fx-pod-member-pid-pod", domainname: "(none)")
        #expect(try CRIUUtsns.decode(podmanUtsns) == podman)
    }

    @Test(arguments: [
        "a-much-longer-target-hostname-for-the-pod.example.internal",
        "h",
        "",
        "höst-ünïcode",
        String(repeating: "x", count: 64),
    ])
    func rewritesTheNodenameAndKeepsTheRest(nodename: String) throws {
        for original in [realUtsnsPodhost, podmanUtsns] {
            let rewritten = try CRIUUtsns.rewrite(original, nodename: nodename)
            #expect(try CRIUUtsns.decode(rewritten) == CRIUUtsnsEntry(nodename: nodename, domainname: "(none)"))
            #expect(Array(rewritten.prefix(8)) == Array(original.prefix(8)))
            #expect(CRIUImage.word(rewritten, at: 8) == UInt32(rewritten.count - 12))
            #expect(rewritten.count - original.count == nodename.utf8.count - (original == podmanUtsns ? 27 : 7))
        }
    }

    @Test func producesTheBytesCRIUAcceptedAtRestore() throws {
        #expect(try CRIUUtsns.rewrite(realUtsnsPodhost, nodename: "otherhost") == utsnsOtherhostCRIUAccepted)
    }

    @Test func rewritingToTheSameNamesIsByteIdentical() throws {
        #expect(try CRIUUtsns.rewrite(realUtsnsPodhost, nodename: "podhost") == realUtsnsPodhost)
        #expect(try CRIUUtsns.rewrite(podmanUtsns, nodename: "crpod-fx-pod-member-pid-pod", domainname: "(none)") == podmanUtsns)
    }

    @Test func rewritesTheDomainnameWhenAsked() throws {
        let rewritten = try CRIUUtsns.rewrite(realUtsnsPodhost, nodename: "n", domainname: "example.org")
        #expect(try CRIUUtsns.decode(rewritten) == CRIUUtsnsEntry(nodename: "n", domainname: "example.org"))
    }

    @Test func keepsRawDomainBytesUnknownFieldsAndTrailingBytes() throws {
        let domain: [UInt8] = [0xff, 0x00, 0x41]
        let entry = ImageBytes.field(2, bytes: domain) + ImageBytes.field(7, 42) + ImageBytes.field(1, bytes: Array("old".utf8))
            + ImageBytes.field(1, bytes: Array("older".utf8))
        let trailing: [UInt8] = [0xde, 0xad]
        let image = ImageBytes.image(CRIUMagic.utsns, [entry]) + trailing
        #expect(try CRIUUtsns.decode(image).nodename == "older")
        let rewritten = try CRIUUtsns.rewrite(image, nodename: "new")
        let expectedEntry = ImageBytes.field(1, bytes: Array("new".utf8)) + ImageBytes.field(2, bytes: domain)
            + ImageBytes.field(7, 42)
        #expect(rewritten == ImageBytes.image(CRIUMagic.utsns, [expectedEntry]) + trailing)
    }

    @Test func acceptsThePreV11LayoutWithoutTheCommonMagic() throws {
        let old = Array(realUtsnsPodhost.dropFirst(4))
        let rewritten = try CRIUUtsns.rewrite(old, nodename: "target")
        #expect(Array(rewritten.prefix(4)) == Array(old.prefix(4)))
        #expect(try CRIUUtsns.decode(rewritten).nodename == "target")
    }

    @Test(arguments: [
        ("no domainname", ImageBytes.field(1, bytes: [0x61]), "utsns_entry lacks domainname (field 2)"),
        ("no nodename", ImageBytes.field(2, bytes: [0x61]), "utsns_entry lacks nodename (field 1)"),
        ("empty entry", [], "utsns_entry lacks nodename (field 1)"),
    ] as [(String, [UInt8], String)])
    func missingNamesAreErrors(_ name: String, entry: [UInt8], reason: String) {
        let image = ImageBytes.image(CRIUMagic.utsns, [entry])
        let problem = CheckpointProblem.malformedImage(image: "utsns.img", offset: 8, reason: reason)
        #expect(throws: problem, "\(name)") { try CRIUUtsns.decode(image) }
        #expect(throws: problem, "\(name)") { try CRIUUtsns.rewrite(image, nodename: "x") }
    }

    @Test func aNameOfTheWrongWireTypeAndAnotherImageFail() {
        let varintName = ImageBytes.field(1, 5) + ImageBytes.field(2, bytes: [0x61])
        let image = ImageBytes.image(CRIUMagic.utsns, [varintName])
        #expect(throws: CheckpointProblem.self) { try CRIUUtsns.rewrite(image, nodename: "x") }
        #expect(throws: CheckpointProblem.wrongMagic(image: "utsns.img", expected: CRIUMagic.utsns, found: CRIUMagic.pstree)) {
            try CRIUUtsns.rewrite(realPstreeThreeTasks, nodename: "x")
        }
    }

    @Test func everyTruncationIsAnError() {
        for original in [realUtsnsPodhost, podmanUtsns] {
            for length in 0..<original.count {
                let prefix = Array(original.prefix(length))
                #expect(throws: CheckpointProblem.self, "length \(length)") { try CRIUUtsns.rewrite(prefix, nodename: "x") }
                #expect(throws: CheckpointProblem.self, "length \(length)") { try CRIUUtsns.decode(prefix) }
            }
        }
    }

    @Test func mutatedAndRandomInputNeverCrashes() {
        var noise = NamespaceImageNoise(state: 0x1234_5678_9ABC_DEF1)
        for index in 0..<realUtsnsPodhost.count {
            for value: UInt8 in [0x00, 0x7f, 0x80, 0xff] {
                var image = realUtsnsPodhost
                image[index] = value
                _ = try? CRIUUtsns.rewrite(image, nodename: "target")
            }
        }
        for _ in 0..<2000 {
            let body = noise.bytes(upTo: 40)
            _ = try? CRIUUtsns.rewrite(ImageBytes.image(CRIUMagic.utsns, [body]), nodename: "target")
            _ = try? CRIUUtsns.decode(Array(realUtsnsPodhost.prefix(8)) + body)
        }
    }

    @Test(arguments: [
        ("utsns-12.img", true), ("checkpoint/utsns-4026531838.img", true), ("utsns-.img", false),
        ("utsns-12.img.bak", false), ("utsns-1a.img", false), ("xutsns-12.img", false), ("utsns-12", false),
    ])
    func recognisesTheImageName(name: String, expected: Bool) {
        #expect(CRIUUtsns.isUtsnsImage(name) == expected)
    }
}
