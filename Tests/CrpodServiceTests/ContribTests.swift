@testable import CrpodEngine
import CrpodLinux
import Testing
@testable import CrpodService

/// contrib/ stays true to the code: the example config names only keys crpod knows, and
/// parses once uncommented.
@Suite("contrib files")
struct ContribTests {
    static let repository: String = {
        var path = #filePath
        for _ in 0..<3 { path = Files.parent(of: path) }
        return path
    }()

    @Test func theExampleConfigUsesKnownKeysAndParses() throws {
        let text = try Files.readText(Self.repository + "/contrib/crpod.conf.example")
        let uncommented = text.split(separator: "\n").compactMap { line -> String? in
            let words = line.dropFirst(2).split(separator: " ")
            guard line.hasPrefix("# "), words.count >= 3, words[1] == "=", words[0].allSatisfy({ $0.isLowercase || $0 == "_" }) else { return nil }
            return String(line.dropFirst(2))
        }
        #expect(uncommented.count >= 20)
        let file = try ConfigFile.parse(uncommented.joined(separator: "\n"), path: "example")
        #expect(Set(file.entries.map(\.key)) == ConfigFile.knownKeys, "every key is documented")
        let settings = EngineSettings(root: "/r", runRoot: "/rr", runtimePath: nil, criuPath: nil, criuSource: nil, cgroupParent: "/crpod", helperDirectory: "/x")
        _ = try? DaemonConfig.load(file, settings: settings)  // socket_group "crpod" may not exist here
    }

    @Test func theUnitsAgreeWithTheDaemon() throws {
        let service = try Files.readText(Self.repository + "/contrib/systemd/crpod.service")
        let socket = try Files.readText(Self.repository + "/contrib/systemd/crpod.socket")
        #expect(service.contains("Type=notify") && service.contains("ExecStart=/usr/local/bin/crpod daemon"))
        #expect(socket.contains("ListenStream=/run/crpod/crpod.sock"))
        #expect(DaemonConfig.defaultSocket(runRoot: "/run/crpod") == "/run/crpod/crpod.sock")
    }

    @Test("build-static.sh --without-registry: documented in its --help, it turns off the default trait Registry that alone brings async-http-client")
    func theLeanApplianceBuildIsTheRegistryTrait() throws {
        let script = try Files.readText(Self.repository + "/contrib/build-static.sh")
        let header = script.split(separator: "\n").prefix { !$0.hasPrefix("set -Eeuo") }.joined(separator: "\n")
        #expect(header.contains("contrib/build-static.sh [--without-registry]") && header.contains("--without-registry  the lean appliance build"))
        #expect(script.contains("--without-registry) traits=(--disable-default-traits)"))
        let package = try Files.readText(Self.repository + "/Package.swift")
        #expect(package.contains(".default(enabledTraits: [\"Registry\"])"))
        let conditional = "package: \"async-http-client\", condition: .when(traits: [\"Registry\"])"
        #expect(package.components(separatedBy: "package: \"async-http-client\"").count == 2, "one product of async-http-client is used")
        #expect(package.contains(conditional), "and only with the trait")
    }
}
