import Testing
import CrpodCore
@testable import CrpodRegistry

@Suite("registry credentials and authfiles")
struct CredentialTests {
    @Test("--creds USER[:PASSWORD]: the password after the first colon, else from stdin; bad forms refused naming the source")
    func parseCreds() throws {
        let both = try RegistryCredentials.parse("alice:s3:cr:et", password: nil)
        #expect(both.username == "alice" && both.password == "s3:cr:et" && both.source == "--creds")
        #expect(try RegistryCredentials.parse("bob", password: "pw").password == "pw")
        for (text, password, message) in [("", nil, "user name is empty"), (":pw", nil, "user name is empty"), ("bob", nil, "no password for bob"),
                                          ("bob:", nil, "no password for bob"), ("bob:pw", "other", "given twice")] {
            #expect { try RegistryCredentials.parse(text, password: password) } throws: { error in
                "\(error)".hasPrefix("--creds: ") && "\(error)".contains(message)
            }
        }
    }

    @Test("Basic encoding is base64(user:password); the description never shows the password")
    func basic() throws {
        let credentials = RegistryCredentials(username: "Aladdin", password: "open sesame", source: "--creds")
        #expect(credentials.basicAuthorization == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        #expect(RegistryCredentials.decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", source: "f") == RegistryCredentials(username: "Aladdin", password: "open sesame", source: "f"))
        #expect(RegistryCredentials.decode("not base64!", source: "f") == nil)
        #expect(RegistryCredentials.decode("bm9jb2xvbg==", source: "f") == nil, "nocolon")
        #expect(!"\(credentials)".contains("sesame") && "\(credentials)" == "user Aladdin from --creds")
        let refused = RegistryError.credentialsRefused(realm: "http://127.0.0.1:5001/token", credentials: credentials)
        #expect("\(refused)" == "credentials refused by http://127.0.0.1:5001/token (user Aladdin from --creds)")
        #expect("\(RegistryError.noCredentials(host: "r.test:5000", searched: "no authfile"))" == "no credentials for r.test:5000: use --creds or --authfile (no authfile)")
    }

    @Test("authfile lookup: the most specific key wins; URL keys match; a bad entry is named", arguments: [
        ("r.test:5000", "team/app", "team-app"), ("r.test:5000", "team/other", "team"), ("r.test:5000", "solo", "host"),
        ("docker.test", "x", "url"), ("none.test", "x", nil),
    ])
    func lookup(host: String, repository: String, expected: String?) throws {
        let json = """
            {"auths": {"r.test:5000": {"auth": "\(Self.auth("host"))"}, "r.test:5000/team": {"auth": "\(Self.auth("team"))"},
             "r.test:5000/team/app": {"auth": "\(Self.auth("team-app"))"}, "https://docker.test/": {"auth": "\(Self.auth("url"))"}},
             "credHelpers": {"x": "y"}}
            """
        let file = try AuthFile.parse(Array(json.utf8), source: "authfile /a.json")
        #expect(try file.credentials(host: host, repository: repository)?.username == expected)
    }

    @Test("authfile: empty is empty; broken JSON and bad entries are refused naming the file")
    func broken() throws {
        #expect(try AuthFile.parse(Array(" \n".utf8), source: "s").credentials(host: "h") == nil)
        #expect(try AuthFile.parse(Array(#"{"auths": {"h": {}}}"#.utf8), source: "s").credentials(host: "h") == nil, "an entry without auth (a helper's) is none")
        for json in ["[1]", "{", #"{"auths": 3}"#] {
            #expect { try AuthFile.parse(Array(json.utf8), source: "authfile /x") } throws: { "\($0)".hasPrefix("authfile /x: ") }
        }
        let bad = try AuthFile.parse(Array(#"{"auths": {"h": {"auth": "@@@"}}}"#.utf8), source: "authfile /x")
        #expect { try bad.credentials(host: "h") } throws: { "\($0)" == "authfile /x: the entry for h is not base64 of user:password" }
    }

    @Test("authfile update: set replaces the entry (URL spellings too), keeps others and unknown keys; remove reports whether it found one")
    func update() throws {
        let json = #"{"auths": {"https://h:1/": {"auth": "eDp5"}, "other": {"auth": "eDp5", "identitytoken": "t"}}, "credHelpers": {"a": "b"}}"#
        var file = try AuthFile.parse(Array(json.utf8), source: "s")
        file.set("h:1", RegistryCredentials(username: "u", password: "p", source: "login"))
        let reread = try AuthFile.parse(try file.encoded(), source: "s")
        #expect(try reread.credentials(host: "h:1")?.password == "p")
        #expect(reread.auths.keys.sorted() == ["h:1", "other"])
        #expect(reread.auths["other"] == .object(["auth": "eDp5", "identitytoken": "t"]))
        #expect(reread.document["credHelpers"] == .object(["a": "b"]))
        var removing = reread
        #expect(removing.set("h:1", nil) && !removing.set("h:1", nil))
        #expect(removing.auths.keys.sorted() == ["other"])
        #expect(AuthFile.normalizedKey("https://r.test:5000/team/") == "r.test:5000/team")
    }

    @Test("default authfile: REGISTRY_AUTH_FILE, else podman's per-user runtime path")
    func defaults() {
        #expect(RegistryAuth.defaultAuthFile(environment: ["REGISTRY_AUTH_FILE": "/a.json"], uid: 0) == "/a.json")
        #expect(RegistryAuth.defaultAuthFile(environment: [:], uid: 0) == "/run/containers/0/auth.json")
        #expect(RegistryAuth.defaultAuthFile(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], uid: 1000) == "/run/user/1000/containers/auth.json")
        #expect(RegistryAuth.defaultAuthFile(environment: [:], uid: 1000) == nil)
    }

    @Test("Bearer token URLs carry the account when there are credentials; login asks without a scope")
    func tokenURL() throws {
        let challenge = try #require(RegistryChallenge.parse(#"Bearer realm="http://127.0.0.1:5001/token",service="reg""#))
        #expect(challenge.tokenURL(scope: "repository:a:pull", account: "bob") == "http://127.0.0.1:5001/token?service=reg&scope=repository%3Aa%3Apull&account=bob")
        #expect(challenge.tokenURL(scope: nil) == "http://127.0.0.1:5001/token?service=reg")
        let bare = try #require(RegistryChallenge.parse(#"Bearer realm="http://h/t""#))
        #expect(bare.tokenURL(scope: nil) == "http://h/t")
        let basic = try #require(RegistryChallenge.parse(#"Basic realm="Registry Realm""#))
        #expect(basic.scheme == "basic" && basic.realm == "Registry Realm")
        #expect(RegistryPaths(host: "h:5000", secure: false).versionCheck == "http://h:5000/v2/")
    }

    static func auth(_ user: String) -> String { RegistryCredentials(username: user, password: "pw", source: "").encoded }
}
