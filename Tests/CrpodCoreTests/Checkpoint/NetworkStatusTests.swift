#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import CrpodCore

@Suite("network.status (podman's shape)")
struct NetworkStatusTests {
    /// `tar -xOf Tests/Fixtures/podman/standalone.tar network.status` (podman 4.3.1).
    static let podman = """
        {"podman": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.88.0.26/16", "gateway": "10.88.0.1"}],
        "mac_address": "6a:c2:e9:d5:e0:75"}}}}
        """

    @Test func podmansStatusReadsAndCrpodsWritesTheSameShape() throws {
        let status = try NetworkStatus(data: Data(Self.podman.utf8))
        #expect(status.problems() == [])
        let eth0 = try #require(status.networks["podman"]?.interfaces["eth0"])
        #expect(eth0.macAddress == "6a:c2:e9:d5:e0:75")
        #expect(eth0.subnets == [.init(ipnet: "10.88.0.26/16", gateway: "10.88.0.1")])
        let written = try status.data()
        let decoder = JSONDecoder()
        #expect(try decoder.decode(JSONValue.self, from: written) == decoder.decode(JSONValue.self, from: Data(Self.podman.utf8)), "the same JSON as podman's")
        #expect(try NetworkStatus(data: written) == status)
    }

    @Test func nullIsNoNetworkBothWays() throws {
        #expect(try NetworkStatus(data: Data("null".utf8)) == NetworkStatus())
        #expect(String(decoding: try NetworkStatus().data(), as: UTF8.self) == "null")
        let v6 = #"{"n": {"interfaces": {"eth0": {"subnets": [{"ipnet": "fd00::5/64", "gateway": "fd00::1"}]}}}}"#
        #expect(try NetworkStatus(data: Data(v6.utf8)).problems() == [], "IPv6, no MAC")
    }

    @Test("hostile network.status: every problem named", arguments: [
        (#"{"../x": {"interfaces": {}}}"#, #"invalid network name "../x""#),
        (#"{"n": {"interfaces": {"a/b": {}}}}"#, #"network "n" interface "a/b": invalid interface name"#),
        (#"{"n": {"interfaces": {"eth0": {"mac_address": "6a:c2:e9:d5:e0"}}}}"#, #"invalid mac_address "6a:c2:e9:d5:e0""#),
        (#"{"n": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.88.0.300/16"}]}}}}"#, #"invalid ipnet "10.88.0.300/16""#),
        (#"{"n": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.88.0.3/33"}]}}}}"#, #"invalid ipnet "10.88.0.3/33""#),
        (#"{"n": {"interfaces": {"eth0": {"subnets": [{"ipnet": "10.88.0.3/16", "gateway": "+1.2.3.4"}]}}}}"#, #"invalid gateway "+1.2.3.4""#),
        (#"{"n": {"interfaces": {"eth0": {"subnets": [{"ipnet": "fd00::1::2/64"}]}}}}"#, #"invalid ipnet "fd00::1::2/64""#),
    ])
    func hostile(json: String, problem: String) throws {
        let problems = try NetworkStatus(data: Data(json.utf8)).problems()
        #expect(problems.contains { $0.contains(problem) }, "\(problems)")
    }

    @Test func tooManyNetworksAndWrongTypesAreRefused() throws {
        let many = "{" + (0..<17).map { #""n\#($0)": {"interfaces": {}}"# }.joined(separator: ",") + "}"
        #expect(try NetworkStatus(data: Data(many.utf8)).problems().contains("more than 16 networks"))
        #expect(throws: CoreError.self) { try NetworkStatus(data: Data(#"{"n": 5}"#.utf8)) }
        #expect(throws: CoreError.self) { try NetworkStatus(data: Data("[1]".utf8)) }
    }

    @Test func aPodArchivesNetworkStatusIsValidated() throws {
        let clean = try PodArchiveFixtures.facts()
        let description = Array(try PodArchiveFixtures.description(["web", "db"]).data())
        func with(_ status: String) -> PodArchiveFacts {
            let read = PodArchiveFacts(whole: clean.whole, contents: [PodArchiveMember.description: description,
                                                                      CheckpointMember.networkStatus: Array(status.utf8)])
            var pod = clean
            pod.networkStatus = read.networkStatus
            pod.networkStatusError = read.networkStatusError
            return pod
        }
        #expect(PodArchiveValidator.validate(with(Self.podman)) == [])
        #expect(PodArchiveValidator.validate(with("null")) == [])
        let bad = PodArchiveValidator.validate(with(#"{"n": {"interfaces": {"eth0": {"mac_address": "zz"}}}}"#))
        #expect(bad.map(\.code) == [PodArchiveValidator.invalidNetworkStatus] && bad.first?.member == CheckpointMember.networkStatus, "\(bad)")
        let garbage = PodArchiveValidator.validate(with("{not json"))
        #expect(garbage.map(\.code) == [PodArchiveValidator.invalidNetworkStatus], "\(garbage)")
    }
}
