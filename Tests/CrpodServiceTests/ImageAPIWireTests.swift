import CrpodEngine
import Foundation
import Testing
@testable import CrpodService

/// L0: the image calls' wire form: the checkpoint's and restore's fields sit beside
/// `createImage` / `image` in one flat object, both ways.
@Suite("image API wire form")
struct ImageAPIWireTests {
    @Test("a restore with image decodes the restore fields and the image; it encodes back flat")
    func restoreWithImage() throws {
        let body = #"{"image":"localhost/ckpt:1","tlsVerify":false,"pod":"pb","name":"moved"}"#
        let call = try JSONDecoder().decode(ImageRestoreCall.self, from: Data(body.utf8))
        #expect(call.image == "localhost/ckpt:1" && call.tlsVerify == false && call.request.pod == "pb" && call.request.name == "moved")
        let again = try JSONDecoder().decode(ImageRestoreCall.self, from: JSONEncoder().encode(call))
        #expect(again.image == call.image && again.tlsVerify == false && again.request.pod == "pb" && again.request.importPath == nil)
        let plain = try JSONDecoder().decode(ImageRestoreCall.self, from: Data(#"{"importPath":"/a.tar"}"#.utf8))
        #expect(plain.image == nil && plain.request.importPath == "/a.tar")
    }

    @Test("a container checkpoint with createImage keeps its checkpoint options")
    func checkpointWithCreateImage() throws {
        let call = try JSONDecoder().decode(ImageCheckpointCall.self, from: Data(#"{"createImage":"localhost/ckpt:1","leaveRunning":true}"#.utf8))
        #expect(call.createImage == "localhost/ckpt:1" && call.request.leaveRunning && call.request.export == nil)
        let again = try JSONDecoder().decode(ImageCheckpointCall.self, from: JSONEncoder().encode(call))
        #expect(again.createImage == call.createImage && again.request.leaveRunning)
    }
}
