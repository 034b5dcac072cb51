import Testing
@testable import CrpodCore

/// Rule 10 and what feeds it: TCP sockets in files.img, stream images, addresses.
@Suite("Established TCP connections")
struct RestoreTCPRuleTests {
    private typealias F = RestoreFixture
    private typealias Code = RestoreProblem.Code

    /// files.img of crpod-sockprobe dumped by CRIU 4.2.1 with --tcp-established on this host:
    /// a listener on 127.0.0.1:36309, both ends of an established loopback pair (inodes
    /// 0x815753 and 0x815754, the names of the dump's two tcp-stream images) and a UDP socket.
    static let sockprobeFilesImage: [UInt8] = hexBytes([
        "194356543831305687000000080110011a80010801100018002a0a0800100018002000280032472f776f726b2f77742f73706f6f6c7463702f2e6275",
        "696c642f7838365f36342d756e6b6e6f776e2d6c696e75782d676e752f64656275672f6372706f642d736f636b70726f62654080ac0150ed830258d1",
        "e7de92055887d8b41b58ada7a1ac065889d5b5a00c58ffe5efc30c63000000080110021a5d0802100018002a0a0800100018002000280032232f7573",
        "722f6c69622f7838365f36342d6c696e75782d676e752f6c69626d2e736f2e3640a0d43750a4830258d6cde79f0e58afa58cf20e58d9fffaea0f58b6",
        "dac1ae0158a9e5b399016e000000080110031a680803100018002a0a08001000180020002800322d2f7573722f6c69622f7838365f36342d6c696e75",
        "782d676e752f6c6962737464632b2b2e736f2e362e302e333040e8d8850150a4830258a8bc8eff09588c8ff4fd0458a4838af80d58eeef9acf0f58c7",
        "c3e1a20b63000000080110041a5d0804100018002a0a0800100018002000280032232f7573722f6c69622f7838365f36342d6c696e75782d676e752f",
        "6c6962632e736f2e3640d8c87550ed83025893d986e30e58da9cc6cd0358efbef6ad03588ee2a4ab0a58d8a4a984046e000000080110051a68080510",
        "0018002a0a08001000180020002800322e2f6f70742f73776966742f7573722f6c69622f73776966742f6c696e75782f6c69627377696674436f7265",
        "2e736f40c8edde0450ed830258b5c3c8ff0558ded9d62758ecd1f6b90958c7e1b8fc0858c1b79ccf0267000000080110061a610806100018002a0a08",
        "00100018002000280032272f7573722f6c69622f7838365f36342d6c696e75782d676e752f6c69626763635f732e736f2e314080d30750a4830258ef",
        "86e0e10458aef8e0c10858fda6ebd50558a4e486e7085897c4c3870e6d000000080110071a670807100018002a0a08001000180020002800322e2f75",
        "73722f6c69622f7838365f36342d6c696e75782d676e752f6c642d6c696e75782d7838362d36342e736f2e3240d88f0d50ed830258fef896ab0e58af",
        "d6f8a50a5898e9927858a9dfc8c30358b7f4adcd0a28000000080110081a2208081082800218002a0a0800100018002000280032092f6465762f6e75",
        "6c6c50b6436f000000080410092269080910d2ae8504180220012806300a38d59b0240004802500458ff80800860006a0a0800100018002000280072",
        "290880800110808008180020002800300038004000480168007000880100900100980100b80100c801008201023840900109a20107180920a038284b",
        "750000000804100a226f080a10d3ae8504180220012806300138b4ad0340d59b024802500058ff80800860ff8080086a0a0800100018002000280072",
        "2a0880bcf00110808008180020002800300038004000480168007000880100900100980100b80100c801008201023840900109a20107180920a03828",
        "4b750000000804100b226f080b10d4ae8504180220012806300138d59b0240b4ad034802500058ff80800860ff8080086a0a08001000180020002800",
        "722a0880bcf00110808008180020002800300038004000480168007000880100900100980100b80100c801008201023840900109a20107180920a038",
        "284b680000000804100c2262080c10d5ae8504180220022811300738a09a0340004802500058ff80800860006a0a0800100018002000280072290880",
        "800d1080800d180020002800300038004000480168007000880100900100980100b80100c801008201023840900109a201001f0000000801100d1a19",
        "080d100018002a0a0800100018002000280032012f50ed83011f0000000801100e1a19080e100018002a0a0800100018002000280032012f50ed8301",
    ])

    static func hexBytes(_ lines: [String]) -> [UInt8] {
        let text = Array(lines.joined().utf8)
        return stride(from: 0, to: text.count - 1, by: 2).compactMap { UInt8(String(decoding: text[$0...$0 + 1], as: UTF8.self), radix: 16) }
    }

    @Test func readsTheTCPSocketsOfARealDump() throws {
        let sockets = try CRIUFiles.tcpSockets(Self.sockprobeFilesImage)
        #expect(sockets.map(\.state) == [10, 1, 1])
        #expect(sockets.allSatisfy { $0.localAddress == "127.0.0.1" })
        #expect(sockets.map(\.streamImageName) == ["tcp-stream-815752.img", "tcp-stream-815753.img", "tcp-stream-815754.img"])
        let connections = ArchiveTCPConnections(
            imageNames: ["files.img", "tcp-stream-815753.img", "tcp-stream-815754.img", "pstree.img"], sockets: sockets)
        #expect(connections == ArchiveTCPConnections(count: 2, localAddresses: ["127.0.0.1"]))
    }

    @Test func streamsCountEvenWhenTheSocketsAreUnknown() {
        #expect(ArchiveTCPConnections(imageNames: ["tcp-stream-1a.img", "tcp-stream-1b.img"], sockets: []).count == 2)
        #expect(ArchiveTCPConnections(imageNames: ["files.img", "tcp-stream-1a.tmp"], sockets: []).count == 0)
    }

    @Test func neverCrashesOnTruncatedBytes() {
        for length in 0..<Self.sockprobeFilesImage.count {
            _ = try? CRIUFiles.tcpSockets(Array(Self.sockprobeFilesImage.prefix(length)))
        }
        #expect(throws: CheckpointProblem.self) { try CRIUFiles.tcpSockets(Array(Self.sockprobeFilesImage.dropLast())) }
    }

    @Test(arguments: [
        (2, [0x0100_007F], "127.0.0.1"), (2, [0x0500_580A], "10.88.0.5"), (2, [1, 2], nil),
        (10, [0, 0, 0, 0x0100_0000], "0:0:0:0:0:0:0:1"), (10, [0, 0, 0xFFFF_0000, 0x0500_580A], "10.88.0.5"),
        (10, [0x0000_00FD, 0, 0, 0x0500_0000], "fd00:0:0:0:0:0:0:5"), (7, [1], nil),
    ] as [(UInt32, [UInt32], String?)])
    func addressText(_ family: UInt32, _ words: [UInt32], _ text: String?) {
        #expect(CRIUFiles.addressText(family: family, words: words) == text)
    }

    @Test func addressesCompareByValue() {
        #expect(TCPAddress.same("10.88.0.5/16", "10.88.0.5"))
        #expect(TCPAddress.same("fd00::5/64", "fd00:0:0:0:0:0:0:5"))
        #expect(!TCPAddress.same("10.88.0.5", "10.88.0.50"))
        #expect(TCPAddress.isLoopback("127.0.0.1") && TCPAddress.isLoopback("::1") && !TCPAddress.isLoopback("10.0.0.1"))
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var label: String
        var connections = 0
        var addresses: [String] = ["10.88.0.5"]
        /// The target pod's addresses; `standalone` restores without a pod.
        var podAddresses: [String]? = ["10.88.0.5/16"]
        var standalone = false
        var flag: Bool?
        var codes: [String] = []
        var on = false
        var words: [String] = []
        var testDescription: String { label }
    }

    static let rows: [Row] = [
        Row(label: "no connections, no flag", flag: false),
        Row(label: "no connections, flag: passed on", flag: true, on: true),
        Row(label: "no connections, automatic: off"),
        Row(label: "connections without the flag: refused", connections: 2, flag: false, codes: [Code.tcpNeedsFlag],
            words: ["the archive holds 2 established TCP connection(s) (checkpointed with --tcp-established): restore with --tcp-established, which needs the same IP address"]),
        Row(label: "connections, flag, same address", connections: 1, flag: true, on: true),
        Row(label: "connections, automatic, same address (spool)", connections: 1, on: true),
        Row(label: "connections, automatic, another address: refused", connections: 1, podAddresses: ["10.88.0.9/16"],
            codes: [Code.tcpAddressUnavailable], on: true, words: ["made from 10.88.0.5, which pod web does not have (it has 10.88.0.9/16)"]),
        Row(label: "connections, flag, pod with loopback only: refused", connections: 1, podAddresses: [], flag: true,
            codes: [Code.tcpAddressUnavailable], on: true, words: ["it has only loopback"]),
        Row(label: "loopback connections go anywhere", connections: 2, addresses: ["127.0.0.1", "0:0:0:0:0:0:0:1"], podAddresses: [], on: true),
        Row(label: "standalone, loopback", connections: 1, addresses: ["127.0.0.1"], standalone: true, on: true),
        Row(label: "standalone, another address: refused", connections: 1, standalone: true, codes: [Code.tcpAddressUnavailable],
            on: true, words: ["a container restored without a pod"]),
        Row(label: "pod on the host's network: not checked", connections: 1, podAddresses: nil, on: true),
        Row(label: "addresses unknown: CRIU decides", connections: 1, addresses: [], podAddresses: ["10.88.0.9/16"], on: true),
    ]

    @Test(arguments: rows)
    func rule(_ row: Row) throws {
        var archive = F.archive(podID: row.standalone ? nil : F.oldPodID, shared: row.standalone ? [] : ["ipc", "net", "uts"])
        archive.tcpConnections = ArchiveTCPConnections(count: row.connections, localAddresses: row.addresses)
        var pod = F.pod()
        pod.addresses = row.podAddresses
        var options = F.options(pod: row.standalone ? nil : "web")
        options.tcpEstablished = row.flag
        let result = RestorePlanner.plan(archive: archive, pod: row.standalone ? nil : pod, host: F.host(), options: options)
        #expect(result.problems?.codes ?? [] == row.codes)
        let messages = result.problems?.problems.map(\.message).joined(separator: "\n") ?? ""
        for word in row.words { #expect(messages.contains(word), "\(word) not in \(messages)") }
        if row.codes.isEmpty { #expect(try #require(result.plan).tcpEstablished == row.on) }
        #expect(RestoreTCPRule.decide(archive: archive, target: row.standalone ? nil : pod, options: options).on == row.on)
    }
}
