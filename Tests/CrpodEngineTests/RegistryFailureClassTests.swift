import CrpodRegistry
import Testing
@testable import CrpodEngine

@Suite struct RegistryFailureClassTests {
    @Test("registry errors: the registry's refusals are the request's (400), a build without the client refuses (422)")
    func classes() {
        #expect(FailureClass.of(RegistryError.status(method: "GET", url: "u", status: 404, detail: "")) == FailureClass(.badRequest, "registry_failed"))
        #expect(FailureClass.of(RegistryError.transport(method: "GET", url: "u", detail: "refused")) == .internalFailure)
        #expect(FailureClass.of(RegistryError.notBuiltIn(operation: "image pull r.test/x")) == FailureClass(.refused, "registry_not_built"))
    }
}
