import Foundation
import Testing
@testable import CrpodEngine

@Suite("ConfigFile")
struct ConfigFileTests {
    @Test func parsesKeysCommentsQuotesAndWhitespace() throws {
        let text = """
            # crpod configuration
            root = /srv/crpod

            run_root="/run/crpod-test"   # trailing comment
            \truntime\t=\t/usr/local/bin/runc
            criu = "criu"
            cgroup_parent = /machine.slice/crpod
            root = /srv/crpod2
            """
        let config = try ConfigFile.parse(text, path: "/etc/crpod/crpod.conf")
        #expect(config.values == [
            "root": "/srv/crpod2",  // the last assignment wins
            "run_root": "/run/crpod-test",
            "runtime": "/usr/local/bin/runc",
            "criu": "criu",
            "cgroup_parent": "/machine.slice/crpod",
        ])
    }

    @Test func crlfLineEndings() throws {
        let config = try ConfigFile.parse("root = /a\r\n# note\r\nrun_root = /b\r\n", path: "x")
        #expect(config.values == ["root": "/a", "run_root": "/b"])
        let error = try #require(throws: EngineError.self) { try ConfigFile.parse("root = /a\r\nbogus = 1\r\n", path: "x") }
        #expect(error.description.hasPrefix("invalid config x:2: "))
    }

    @Test func emptyAndCommentOnlyTextIsAnEmptyConfig() throws {
        #expect(try ConfigFile.parse("", path: "x").values.isEmpty)
        #expect(try ConfigFile.parse("# nothing\n\n   # here\n", path: "x") == ConfigFile())
    }

    @Test(arguments: [
        ("root = /a\nrooot = /b\n", 2),         // misspelt key
        ("# c\n\nroot /a\n", 3),                 // no '='
        ("root = /a\n\n\nRoot = /b", 4),         // keys are case-sensitive
        ("root =", 1),                           // no value
    ])
    func badLinesNameFileAndLine(text: String, line: Int) throws {
        let error = try #require(throws: EngineError.self) { try ConfigFile.parse(text, path: "/etc/crpod/test.conf") }
        guard case let .invalidInput(what, detail) = error else {
            Issue.record("expected .invalidInput, got \(error)")
            return
        }
        #expect(what == "config /etc/crpod/test.conf:\(line)")
        #expect(detail.contains("cgroup_parent, cni_config_dir, cni_plugin_dir, criu, engine, max_jobs") && detail.contains("root, run_root, runtime, runtime_timeout, socket"), "every known key is named")
        #expect(error.description.hasPrefix("invalid config /etc/crpod/test.conf:\(line): "))
    }

    @Test func loadReadsAFileAndAMissingExplicitFileIsAnError() throws {
        try withTempTree { dir in
            let path = try put(dir + "/crpod.conf", "root = /x\n")
            #expect(try ConfigFile.load(path: path).values == ["root": "/x"])
            let error = try #require(throws: EngineError.self) { try ConfigFile.load(path: dir + "/absent.conf") }
            guard case let .step(name, _) = error else {
                Issue.record("expected .step, got \(error)")
                return
            }
            #expect(name == "read config \(dir)/absent.conf")
        }
    }
}

@Suite("EngineSettings.resolve")
struct EngineSettingsTests {
    /// An empty config file and an empty PATH directory: nothing from the host leaks in.
    static func isolated(_ dir: String, config: String = "") throws -> (EngineSettings.Overrides, [String: String]) {
        let path = try put(dir + "/crpod.conf", config)
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        return (EngineSettings.Overrides(configPath: path), ["PATH": dir + "/bin"])
    }

    @Test func defaults() throws {
        try withTempTree { dir in
            let (overrides, env) = try Self.isolated(dir)
            let settings = try EngineSettings.resolve(overrides, environment: env)
            #expect(settings.root == "/var/lib/crpod")
            #expect(settings.runRoot == "/run/crpod")
            #expect(settings.runtimeStateRoot == "/run/crpod/runc")
            #expect(settings.cgroupParent == "/crpod")
            #expect(settings.runtimePath == nil)
            #expect(settings.criuPath == nil && settings.criuSource == nil)
            #expect(settings.helperDirectory == EngineSettings.executableDirectory())
            #expect(throws: EngineError.self) { try settings.requireRuntime() }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var flag: String?
        var env: String?
        var config: String?
        var expected: String
        var testDescription: String { "flag=\(flag ?? "-") env=\(env ?? "-") config=\(config ?? "-")" }
    }

    @Test(arguments: [
        Case(flag: "/flag", env: "/env", config: "/config", expected: "/flag"),
        Case(flag: "/flag", env: nil, config: "/config", expected: "/flag"),
        Case(flag: nil, env: "/env", config: "/config", expected: "/env"),
        Case(flag: nil, env: nil, config: "/config", expected: "/config"),
        Case(flag: nil, env: "/env", config: nil, expected: "/env"),
    ])
    func rootAndRunRootPrecedence(_ c: Case) throws {
        try withTempTree { dir in
            let config = c.config.map { "root = \($0)/root\nrun_root = \($0)/run\n" } ?? ""
            var (overrides, env) = try Self.isolated(dir, config: config)
            overrides.root = c.flag.map { $0 + "/root" }
            overrides.runRoot = c.flag.map { $0 + "/run" }
            if let value = c.env {
                env["CRPOD_ROOT"] = value + "/root"
                env["CRPOD_RUNROOT"] = value + "/run"
            }
            let settings = try EngineSettings.resolve(overrides, environment: env)
            #expect(settings.root == c.expected + "/root")
            #expect(settings.runRoot == c.expected + "/run")
        }
    }

    @Test("registry authfile: $REGISTRY_AUTH_FILE over registry_auth_file (both must exist), else podman's default (only if present)")
    func registryAuthFilePrecedence() throws {
        try withTempTree { dir in
            var (overrides, env) = try Self.isolated(dir, config: "registry_auth_file = /config/auth.json\n")
            env["REGISTRY_AUTH_FILE"] = "/env/auth.json"
            var file = try EngineSettings.resolve(overrides, environment: env).registryAuthFile
            #expect(file?.path == "/env/auth.json" && file?.mustExist == true)
            env["REGISTRY_AUTH_FILE"] = ""
            file = try EngineSettings.resolve(overrides, environment: env).registryAuthFile
            #expect(file?.path == "/config/auth.json" && file?.mustExist == true)
            (overrides, env) = try Self.isolated(dir)
            file = try EngineSettings.resolve(overrides, environment: env).registryAuthFile
            #expect(geteuid() != 0 || (file?.path == "/run/containers/0/auth.json" && file?.mustExist == false))
        }
    }

    @Test func configPathFlagBeatsCrpodConfigEnvironment() throws {
        try withTempTree { dir in
            let fromFlag = try put(dir + "/flag.conf", "cgroup_parent = /from-flag\n")
            let fromEnv = try put(dir + "/env.conf", "cgroup_parent = /from-env\n")
            let env = ["PATH": dir, "CRPOD_CONFIG": fromEnv]
            #expect(try EngineSettings.resolve(.init(configPath: fromFlag), environment: env).cgroupParent == "/from-flag")
            #expect(try EngineSettings.resolve(.init(), environment: env).cgroupParent == "/from-env")
        }
    }

    @Test func criuFlagOverConfigOverPath() throws {
        try withTempTree { dir in
            try fakeTool(dir + "/bin/criu")
            try fakeTool(dir + "/bin/runc")
            let configured = try fakeTool(dir + "/opt/criu-config")
            let flagged = try fakeTool(dir + "/opt/criu-flag")

            var (overrides, env) = try Self.isolated(dir)
            var settings = try EngineSettings.resolve(overrides, environment: env)
            #expect(settings.criuPath == dir + "/bin/criu")
            #expect(settings.criuSource == "PATH")
            #expect(settings.runtimePath == dir + "/bin/runc")

            (overrides, env) = try Self.isolated(dir, config: "criu = \(configured)\n")
            settings = try EngineSettings.resolve(overrides, environment: env)
            #expect(settings.criuPath == configured)
            #expect(settings.criuSource == "configuration")

            overrides.criu = flagged
            settings = try EngineSettings.resolve(overrides, environment: env)
            #expect(settings.criuPath == flagged)
            #expect(settings.criuSource == "--criu flag")
        }
    }

    @Test func aCriuThatIsNotExecutableIsNotReplacedByPath() throws {
        try withTempTree { dir in
            try fakeTool(dir + "/bin/criu")
            let plain = try put(dir + "/opt/criu", "not executable", mode: 0o644)
            var (overrides, env) = try Self.isolated(dir)
            overrides.criu = plain
            #expect(try EngineSettings.resolve(overrides, environment: env).criuPath == nil)
            (overrides, env) = try Self.isolated(dir, config: "criu = \(dir)/opt/missing\n")
            #expect(try EngineSettings.resolve(overrides, environment: env).criuPath == nil)
            // A bare name in the config is looked up on PATH, but still counts as configured.
            (overrides, env) = try Self.isolated(dir, config: "criu = criu\n")
            let settings = try EngineSettings.resolve(overrides, environment: env)
            #expect(settings.criuPath == dir + "/bin/criu")
            #expect(settings.criuSource == "configuration")
        }
    }

    @Test func runtimeFlagOverConfigOverPath() throws {
        try withTempTree { dir in
            try fakeTool(dir + "/bin/runc")
            var (overrides, env) = try Self.isolated(dir, config: "runtime = /opt/runc-config\n")
            #expect(try EngineSettings.resolve(overrides, environment: env).runtimePath == "/opt/runc-config")
            overrides.runtime = "/opt/runc-flag"
            let settings = try EngineSettings.resolve(overrides, environment: env)
            #expect(settings.runtimePath == "/opt/runc-flag")
            #expect(try settings.requireRuntime() == "/opt/runc-flag")
        }
    }

    @Test func helperPathUsesCrpodHelperDir() throws {
        try withTempTree { dir in
            let pause = try fakeTool(dir + "/helpers/crpod-pause")
            try put(dir + "/helpers/crpod-test-not-executable", "", mode: 0o644)
            var (overrides, env) = try Self.isolated(dir)
            env["CRPOD_HELPER_DIR"] = dir + "/helpers"
            overrides.root = dir + "/root"
            let settings = try EngineSettings.resolve(overrides, environment: env)
            #expect(settings.helperDirectory == dir + "/helpers")
            #expect(try settings.helperPath("crpod-pause") == pause)
            let error = try #require(throws: EngineError.self) { try settings.helperPath("crpod-test-not-executable") }
            guard case let .helperMissing(name, searched) = error else {
                Issue.record("expected .helperMissing, got \(error)")
                return
            }
            #expect(name == "crpod-test-not-executable")
            #expect(searched.first == dir + "/helpers/crpod-test-not-executable")
            #expect(error.description.contains("set CRPOD_HELPER_DIR"))
        }
    }
}

@Suite struct CNIConfigKeyTests {
    @Test func cniDirectoriesComeFromFlagThenConfig() throws {
        try withTempTree { dir in
            let path = try put(dir + "/crpod.conf", "cni_config_dir = /etc/other-cni\ncni_plugin_dir = /a\ncni_plugin_dir = /b\n")
            let fromConfig = try EngineSettings.resolve(EngineSettings.Overrides(configPath: path), environment: ["PATH": "/nonexistent"])
            #expect(fromConfig.cniConfigDirectory == "/etc/other-cni")
            #expect(fromConfig.cniPluginDirectories == ["/a", "/b"])
            let fromFlag = try EngineSettings.resolve(EngineSettings.Overrides(configPath: path, cniConfigDirectory: "/flag"), environment: [:])
            #expect(fromFlag.cniConfigDirectory == "/flag")
            let empty = try put(dir + "/empty.conf", "")
            let defaults = try EngineSettings.resolve(EngineSettings.Overrides(configPath: empty), environment: [:])
            #expect(defaults.cniConfigDirectory == "/etc/cni/net.d" && defaults.cniPluginDirectories == ["/usr/lib/cni", "/opt/cni/bin"])
        }
    }
}
