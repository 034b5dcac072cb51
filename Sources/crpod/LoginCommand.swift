import ArgumentParser
import CrpodEngine
import CrpodLinux
import CrpodRegistry

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Check credentials against a registry, then store them in the authfile (like podman login).",
        discussion: """
            The credentials are tried on the registry's GET /v2/ (a Basic challenge answered with them, a Bearer realm asked for a token with them); only accepted ones are written, into the authfile (--authfile, else $REGISTRY_AUTH_FILE, else the config's registry_auth_file, else podman's /run/containers/0/auth.json for root) as containers-auth.json: {"auths": {"HOST": {"auth": "base64(user:password)"}}}, mode 0600, written atomically, other entries kept. image pull, image push and restore --image then find them there. The password comes from --password-stdin (or -p, which other users can see in the process list); crpod does not prompt.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("User name.", valueName: "user")) var username: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("Password (visible to other users in the process list; prefer --password-stdin).", valueName: "password"))
    var password: String?
    @Flag(name: .customLong("password-stdin"), help: "Read the password from stdin (the whole input, trailing newline dropped).") var passwordStdin = false
    @Option(help: ArgumentHelp("Authfile to write (containers-auth.json).", valueName: "file")) var authfile: String?
    @Option(name: .customLong("tls-verify"),
            help: "true: HTTPS with a verified certificate; false: plain HTTP. Default: HTTPS, but plain HTTP for a registry on loopback (localhost, 127.0.0.0/8, [::1]).")
    var tlsVerify: Bool?
    @Option(name: .customLong("cert-dir"), help: RegistryOptions.certDirHelp) var certDir: String?
    @Argument(help: ArgumentHelp("The registry, optionally with a namespace the entry is limited to.", valueName: "host[:port][/namespace]")) var registry: String

    func validate() throws {
        if username == nil { throw ValidationError("give the user name with -u USER (crpod does not prompt)") }
        if (password != nil) == passwordStdin { throw ValidationError("give the password with --password-stdin or -p PASSWORD (crpod does not prompt)") }
    }

    func run() async throws {
        try RegistryError.requireClient(for: "login \(registry)")
        let key = try registryKey(registry)
        let path = try authFilePath(authfile, global: global)
        var secret = password ?? ""
        if passwordStdin { secret = try await readPasswordFromStdin() }
        let credentials = try RegistryCredentials.parse(username ?? "", password: secret, source: "crpod login")
        let host = String(key.prefix { $0 != "/" })
        let certDir = certDir.map(absolutePath)
        let trust = try await BlockingThread.run("read CA files for \(host)") { _ in try RegistryTrust.load(host: host, certDir: certDir) }
        try await RegistryClient(paths: RegistryPaths(host: host, secure: tlsVerify), credentials: credentials, trust: trust).checkCredentials()
        var file = try AuthFile.load(path, mustExist: false)
        file.set(key, credentials)
        try file.save(path)
        print("Login Succeeded!")
    }
}

struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout",
        abstract: "Remove a registry's credentials from the authfile (like podman logout).",
        discussion: "The authfile is the one login writes (--authfile, else $REGISTRY_AUTH_FILE, else registry_auth_file, else /run/containers/0/auth.json for root); other entries are kept. A registry without an entry is an error.")

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Authfile to change (containers-auth.json).", valueName: "file")) var authfile: String?
    @Flag(help: "Remove every registry's credentials.") var all = false
    @Argument(help: ArgumentHelp("The registry (as given to login).", valueName: "host[:port][/namespace]")) var registry: String?

    func validate() throws {
        if all == (registry != nil) { throw ValidationError("name one registry, or --all") }
    }

    func run() async throws {
        let path = try authFilePath(authfile, global: global)
        var file = try AuthFile.load(path, mustExist: false)
        if all {
            file.removeAll()
            try file.save(path)
            return print("Removed login credentials for all registries")
        }
        let key = try registryKey(registry ?? "")
        guard file.set(key, nil) else { throw ValidationError("not logged in to \(key) (no entry in authfile \(path))") }
        try file.save(path)
        print("Removed login credentials for \(key)")
    }
}

/// `host[:port][/namespace]`, a scheme and trailing slashes dropped (Docker's config.json keys).
func registryKey(_ text: String) throws -> String {
    let key = AuthFile.normalizedKey(text)
    guard !key.isEmpty, !key.hasPrefix("/"), !key.contains(where: { $0 == " " || $0 == "@" }) else {
        throw ValidationError("\"\(text)\" is not a registry: expected host[:port][/namespace]")
    }
    return key
}

/// The authfile login and logout change: `--authfile`, else the one pulls read.
func authFilePath(_ flag: String?, global: GlobalOptions) throws -> String {
    if let flag { return absolutePath(flag) }
    guard let path = try global.settings().registryAuthFile?.path else {
        throw ValidationError("no default authfile for this user (no REGISTRY_AUTH_FILE or XDG_RUNTIME_DIR): give --authfile FILE")
    }
    return path
}
