#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodEngine
import Testing

@Suite("PodCreateRequest over the API")
struct PodCreateRequestCodingTests {
    @Test("shmSize travels from the CLI's --remote client to the daemon (encoded, decoded); absent means the default")
    func shmSizeRoundTrips() throws {
        var request = PodCreateRequest(name: "p", network: "none")
        request.shmSize = 2 << 20
        let decoded = try JSONDecoder().decode(PodCreateRequest.self, from: JSONEncoder().encode(request))
        #expect(decoded.shmSize == 2 << 20 && decoded.name == "p" && decoded.network == "none")
        let bare = try JSONDecoder().decode(PodCreateRequest.self, from: Data(#"{"name": "q"}"#.utf8))
        #expect(bare.shmSize == nil && bare.shares == ["ipc", "net", "uts"])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PodCreateRequest.self, from: Data(#"{"name": "q", "shmSize": -1}"#.utf8)) }
    }
}
