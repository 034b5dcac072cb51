import Testing
import CrpodCore
@testable import CrpodRegistry

@Suite("registry challenges and URLs")
struct ChallengeTests {
    @Test("Bearer challenges give the token URL; the challenge's scope wins; Basic gives none")
    func bearer() throws {
        let header = #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull""#
        let challenge = try #require(RegistryChallenge.parse(header))
        #expect(challenge.scheme == "bearer" && challenge.realm == "https://auth.example/token")
        #expect(challenge.tokenURL(scope: "repository:x:pull") == "https://auth.example/token?service=registry.example&scope=repository%3Ateam%2Fapp%3Apull")
        let noScope = try #require(RegistryChallenge.parse(#"Bearer realm="http://127.0.0.1:5001/t?a=1""#))
        #expect(noScope.tokenURL(scope: "repository:app:pull,push") == "http://127.0.0.1:5001/t?a=1&scope=repository%3Aapp%3Apull%2Cpush")
        #expect(RegistryChallenge.parse(#"Basic realm="Registry""#)?.tokenURL(scope: "s") == nil)
        #expect(RegistryChallenge.parse(#"Bearer realm="file:///etc/passwd""#)?.tokenURL(scope: "s") == nil, "only http(s) realms")
        #expect(RegistryChallenge.parse("") == nil)
    }

    @Test("paths: the registry must be named; uploads complete with the digest")
    func paths() throws {
        let paths = try RegistryPaths(try ImageReference.parse("127.0.0.1:5000/team/app:v1"), secure: false)
        let digest = ImageDigest(hex: String(repeating: "a", count: 64))!
        #expect(paths.manifest("v1") == "http://127.0.0.1:5000/v2/team/app/manifests/v1")
        #expect(paths.blob(digest) == "http://127.0.0.1:5000/v2/team/app/blobs/sha256:" + digest.hex)
        #expect(paths.completeUpload(location: "/v2/team/app/blobs/uploads/u?_state=x", digest: digest)
                == "http://127.0.0.1:5000/v2/team/app/blobs/uploads/u?_state=x&digest=sha256%3A" + digest.hex)
        #expect(paths.scope(push: true) == "repository:team/app:pull,push")
        #expect(throws: CoreError.self) { try RegistryPaths(try ImageReference.parse("busybox"), secure: true) }
        #expect(try RegistryPaths(try ImageReference.parse("localhost/app"), secure: true).base == "https://localhost")
    }

    @Test("without --tls-verify a loopback registry is plain http, any other https",
          arguments: [("localhost:5000", true), ("LOCALHOST", true), ("127.0.0.1:5000", true), ("127.3.2.1", true), ("[::1]:5000", true),
                      ("127.0.0.1.example:5000", false), ("127.0.0", false), ("128.0.0.1:5000", false), ("localhost.example", false),
                      ("[::2]:5000", false), ("registry.test:5000", false), ("127.0.0.256", false)])
    func loopbackDefault(host: String, loopback: Bool) throws {
        #expect(RegistryPaths.isLoopback(host) == loopback)
        #expect(RegistryPaths(host: host, secure: nil).base == (loopback ? "http://" : "https://") + host)
        #expect(RegistryPaths(host: host, secure: true).base == "https://" + host, "an explicit --tls-verify=true wins")
        #expect(RegistryPaths(host: host, secure: false).base == "http://" + host)
    }
}
