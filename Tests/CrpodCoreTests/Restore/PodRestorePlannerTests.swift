import Testing
@testable import CrpodCore

@Suite("PodRestorePlanner")
struct PodRestorePlannerTests {
    static func description(network: PodArchiveDescription.Network = .init(mode: "none"), shares: [String] = ["ipc", "net", "uts"]) -> PodArchiveDescription {
        PodArchiveDescription(name: "pa", id: CheckpointFixtures.podID, shares: shares, hostname: "pa", network: network,
                              members: [.init(name: "srv", id: "1"), .init(name: "cli", id: "2"), .init(name: "shm", id: "3")])
    }

    static let cni = PodArchiveDescription.Network(mode: "cni", name: "crpod", addresses: ["10.89.0.7/24"], mac: "0a:58:0a:59:00:07",
                                                    published: [.init(hostPort: 8080, containerPort: 80, protocol: "tcp")])

    @Test func aPodComesBackAsItWasWithIPCFromTheFirstMember() throws {
        let plan = try PodRestorePlanner.plan(PodRestoreFacts(description: Self.description()), PodRestoreOptions()).get()
        #expect(plan.podName == "pa")
        #expect(plan.shares == ["ipc", "net", "uts"])
        #expect(plan.hostname == "pa")
        #expect(plan.network == "none")
        #expect(plan.staticIP == nil)
        #expect(plan.members.map(\.name) == ["srv", "cli", "shm"])
        #expect(plan.members.map(\.carriesPodIPC) == [true, false, false])
    }

    @Test func theMemberAttachingShmCarriesTheIPCObjects() throws {
        let facts = PodRestoreFacts(description: Self.description(), membersAttachingSysVShm: ["shm"])
        let plan = try PodRestorePlanner.plan(facts, PodRestoreOptions()).get()
        #expect(plan.members.map(\.carriesPodIPC) == [false, false, true])
        #expect(plan.notes.contains { $0.contains("from shm's images") })
    }

    @Test func withAnEngineThatReattachesTheFirstAttachingMemberCarriesAndTheOthersReattach() throws {
        var facts = PodRestoreFacts(description: Self.description(), membersAttachingSysVShm: ["shm", "srv"])
        facts.engineReattachesSysVShm = true
        let plan = try PodRestorePlanner.plan(facts, PodRestoreOptions()).get()
        #expect(plan.members.map(\.carriesPodIPC) == [true, false, false], "srv comes first and attaches")
        #expect(plan.members.map(\.reattachesPodSysVShm) == [false, false, true], "cli attaches nothing")
    }

    @Test func withAnEngineThatReattachesTheFirstMemberCarriesEvenWhenALaterOneAttaches() throws {
        var facts = PodRestoreFacts(description: Self.description(), membersAttachingSysVShm: ["shm"])
        facts.engineReattachesSysVShm = true
        let plan = try PodRestorePlanner.plan(facts, PodRestoreOptions()).get()
        #expect(plan.members.map(\.carriesPodIPC) == [true, false, false], "srv re-creates every object before cli or shm runs")
        #expect(plan.members.map(\.reattachesPodSysVShm) == [false, false, true])
        #expect(plan.notes.contains { $0.contains("from srv's images") })
    }

    @Test func withoutAnIPCShareNobodyCarriesIPC() throws {
        let plan = try PodRestorePlanner.plan(PodRestoreFacts(description: Self.description(shares: ["net", "uts"])), PodRestoreOptions()).get()
        #expect(plan.members.allSatisfy { !$0.carriesPodIPC })
    }

    @Test func aCNIPodKeepsItsAddressMACAndPortsUnlessAsked() throws {
        let facts = PodRestoreFacts(description: Self.description(network: Self.cni), configuredNetworks: ["crpod"])
        let same = try PodRestorePlanner.plan(facts, PodRestoreOptions()).get()
        #expect(same.network == "crpod")
        #expect(same.staticIP == "10.89.0.7")
        #expect(same.staticMAC == "0a:58:0a:59:00:07")
        #expect(same.publish == Self.cni.published)
        var options = PodRestoreOptions(newName: "pb")
        options.ignoreStaticIP = true
        options.ignoreStaticMAC = true
        options.publish = []
        let moved = try PodRestorePlanner.plan(facts, options).get()
        #expect(moved.podName == "pb")
        #expect(moved.staticIP == nil && moved.staticMAC == nil && moved.publish == [])
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let facts: PodRestoreFacts
        let options: PodRestoreOptions
        let codes: [String]
        let mention: String
        var testDescription: String { name }
    }

    static func options(tcp: Bool? = false, ignoreIP: Bool = false, name: String? = nil) -> PodRestoreOptions {
        var options = PodRestoreOptions(newName: name)
        options.tcpEstablished = tcp
        options.ignoreStaticIP = ignoreIP
        return options
    }

    static let cases: [Case] = [
        Case(name: "the pod's name is taken", facts: PodRestoreFacts(description: description(), existingPodNames: ["pa"]),
             options: options(), codes: [PodRestorePlanner.Code.podNameInUse], mention: "--name NEWPOD"),
        Case(name: "a new name is free", facts: PodRestoreFacts(description: description(), existingPodNames: ["pa"]),
             options: options(name: "pb"), codes: [], mention: ""),
        Case(name: "two members' names are taken", facts: PodRestoreFacts(description: description(), existingContainerNames: ["srv", "shm", "x"]),
             options: options(), codes: [PodRestorePlanner.Code.containerNameInUse, PodRestorePlanner.Code.containerNameInUse], mention: "\"shm\""),
        Case(name: "the CNI network is not configured", facts: PodRestoreFacts(description: description(network: cni)),
             options: options(), codes: [PodRestorePlanner.Code.networkMissing], mention: "\"crpod\""),
        Case(name: "TCP connections without --tcp-established", facts: PodRestoreFacts(description: description(), membersWithTCPConnections: ["srv": 2, "cli": 1]),
             options: options(), codes: [PodRestorePlanner.Code.tcpNeedsFlag], mention: "3 established TCP connection(s) (members cli (1), srv (2)"),
        Case(name: "--tcp-established with a new address", facts: PodRestoreFacts(description: description(network: cni), membersWithTCPConnections: ["srv": 1], configuredNetworks: ["crpod"]),
             options: options(tcp: true, ignoreIP: true), codes: [PodRestorePlanner.Code.tcpNeedsSameAddress], mention: "10.89.0.7/24"),
        Case(name: "--tcp-established, same address", facts: PodRestoreFacts(description: description(network: cni), membersWithTCPConnections: ["srv": 1], configuredNetworks: ["crpod"]),
             options: options(tcp: true), codes: [], mention: ""),
        Case(name: "--tcp-established, no address at all (lo only)", facts: PodRestoreFacts(description: description(), membersWithTCPConnections: ["srv": 1]),
             options: options(tcp: true, ignoreIP: true), codes: [], mention: ""),
        Case(name: "TCP connections, flag absent (spool): same address", facts: PodRestoreFacts(description: description(network: cni), membersWithTCPConnections: ["srv": 1], configuredNetworks: ["crpod"]),
             options: options(tcp: nil), codes: [], mention: ""),
        Case(name: "TCP connections, flag absent (spool), new address", facts: PodRestoreFacts(description: description(network: cni), membersWithTCPConnections: ["srv": 1], configuredNetworks: ["crpod"]),
             options: options(tcp: nil, ignoreIP: true), codes: [PodRestorePlanner.Code.tcpNeedsSameAddress], mention: "--ignore-static-ip"),
        Case(name: "two members attach SysV shm", facts: PodRestoreFacts(description: description(), membersAttachingSysVShm: ["shm", "srv"]),
             options: options(), codes: [PodRestorePlanner.Code.sharedSysVShm], mention: "srv, shm"),
        Case(name: "every problem at once", facts: PodRestoreFacts(description: description(network: cni), membersWithTCPConnections: ["cli": 1], existingPodNames: ["pa"]),
             options: options(), codes: [PodRestorePlanner.Code.podNameInUse, PodRestorePlanner.Code.networkMissing, PodRestorePlanner.Code.tcpNeedsFlag], mention: "pa"),
    ]

    /// (connections per member, --tcp-established given as) → whether members get the flag.
    @Test(arguments: [
        ([:], nil, false), ([:], true, true), ([:], false, false),
        (["srv": 2], nil, true), (["srv": 2], true, true), (["srv": 0], nil, false),
    ] as [([String: Int], Bool?, Bool)])
    func tcpEstablishedIsDecided(_ connections: [String: Int], _ flag: Bool?, _ expected: Bool) throws {
        let facts = PodRestoreFacts(description: Self.description(network: Self.cni), membersWithTCPConnections: connections, configuredNetworks: ["crpod"])
        let plan = try PodRestorePlanner.plan(facts, Self.options(tcp: flag)).get()
        #expect(plan.tcpEstablished == expected)
    }

    @Test(arguments: cases)
    func rules(_ testCase: Case) {
        switch PodRestorePlanner.plan(testCase.facts, testCase.options) {
        case .success:
            #expect(testCase.codes.isEmpty)
        case let .failure(problems):
            #expect(problems.problems.map(\.code) == testCase.codes)
            #expect(problems.problems.contains { $0.message.contains(testCase.mention) }, "\(problems.problems.map(\.message))")
        }
    }
}
