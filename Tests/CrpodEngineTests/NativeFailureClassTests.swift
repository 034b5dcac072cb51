@testable import CrpodDrivers
@testable import CrpodEngine
import CrpodLinux
import Testing

/// The native engine's errors reach the API with a status from their type.
@Suite struct NativeFailureClassTests {
    @Test func whatTheNativeEngineCannotProvideIsARefusal() {
        let refused = EngineError.step("restore c1", cause: NativeEngineError.unsupported(id: "c1", what: "the external mount \"/host-etc\""))
        #expect(FailureClass.of(refused) == FailureClass(.refused, "restore_refused"))
        let unusable = LinuxError.notRegularFile(path: "/images/descriptors.json", kind: "a FIFO")
        #expect(FailureClass.of(NativeRestoreError.step(operation: "read the images", cause: unusable)) == FailureClass(.badRequest, "not_a_regular_file"))
    }
}
