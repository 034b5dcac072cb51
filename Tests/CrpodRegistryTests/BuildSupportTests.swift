import CrpodCore
import Testing
@testable import CrpodRegistry

/// The `Registry` trait: a build with it (the default) has the client; one without it
/// (`contrib/build-static.sh --without-registry`) refuses every registry operation up front,
/// naming the operation and how the binary was built.
@Suite("registry support in this build")
struct BuildSupportTests {
    @Test("the refusal names the build option and the operation, and says how images still come in")
    func refusalMessage() {
        let text = "\(RegistryError.notBuiltIn(operation: "image pull r.test/x/y:z"))"
        #expect(text == "this crpod was built without registry support (contrib/build-static.sh --without-registry): "
                + "image pull r.test/x/y:z needs a registry; bring images in with crpod image import (or use a full build)")
    }

    @Test("requireClient passes exactly when the client is built in")
    func requireClient() {
        #if Registry
        #expect(RegistryClient.isBuiltIn)
        #else
        #expect(!RegistryClient.isBuiltIn)
        #endif
        if RegistryClient.isBuiltIn {
            #expect(throws: Never.self) { try RegistryError.requireClient(for: "login r.test") }
        } else {
            #expect { try RegistryError.requireClient(for: "login r.test") } throws: { "\($0)".contains("login r.test needs a registry") }
        }
    }

    #if !Registry
    @Test("without the trait, every request of the client refuses without touching the network")
    func absentClientRefuses() async throws {
        let client = try RegistryClient(ImageReference.parse("r.test:5000/x/y:z"), secure: nil)
        let digest = try #require(ImageDigest("sha256:" + String(repeating: "a", count: 64)))
        await #expect(throws: RegistryError.self) { try await client.checkCredentials() }
        await #expect(throws: RegistryError.self) { _ = try await client.manifest("z") }
        await #expect(throws: RegistryError.self) { try await client.blob(digest, to: "/nonexistent/blob") }
        await #expect(throws: RegistryError.self) { _ = try await client.hasBlob(digest) }
        await #expect(throws: RegistryError.self) { try await client.upload(digest, from: "/nonexistent/blob") }
        await #expect(throws: RegistryError.self) { try await client.putManifest([], mediaType: "m", tag: "z") }
    }
    #endif
}
