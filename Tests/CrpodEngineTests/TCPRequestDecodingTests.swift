import Foundation
import Testing
@testable import CrpodEngine

/// `tcpEstablished` on the wire: true and false are kept, left out is nil (decided from the
/// archive), and what the CLI encodes (false without the flag) reaches the daemon as false.
@Suite("restore requests' tcpEstablished")
struct TCPRequestDecodingTests {
    @Test(arguments: [(#"{"importPath":"/a"}"#, nil), (#"{"importPath":"/a","tcpEstablished":false}"#, false),
                      (#"{"importPath":"/a","tcpEstablished":true}"#, true)] as [(String, Bool?)])
    func decoded(_ json: String, _ expected: Bool?) throws {
        #expect(try JSONDecoder().decode(RestoreRequest.self, from: Data(json.utf8)).tcpEstablished == expected)
        #expect(try JSONDecoder().decode(PodRestoreRequest.self, from: Data(json.utf8)).tcpEstablished == expected)
    }

    @Test func theCLIsFalseSurvivesTheWire() throws {
        var request = RestoreRequest(importPath: "/a")
        request.tcpEstablished = false
        let sent = try JSONDecoder().decode(RestoreRequest.self, from: JSONEncoder().encode(request))
        #expect(sent.tcpEstablished == false)
        var pod = PodRestoreRequest(importPath: "/a")
        pod.tcpEstablished = false
        #expect(try JSONDecoder().decode(PodRestoreRequest.self, from: JSONEncoder().encode(pod)).tcpEstablished == false)
    }
}

@Suite("pod restore requests' cgroupParent")
struct PodRestoreCgroupParentDecodingTests {
    @Test func itCrossesTheWireAndIsAbsentByDefault() throws {
        var pod = PodRestoreRequest(importPath: "/a")
        pod.cgroupParent = "/appliance"
        #expect(try JSONDecoder().decode(PodRestoreRequest.self, from: JSONEncoder().encode(pod)).cgroupParent == "/appliance")
        #expect(try JSONDecoder().decode(PodRestoreRequest.self, from: Data(#"{"importPath":"/a"}"#.utf8)).cgroupParent == nil)
    }
}
