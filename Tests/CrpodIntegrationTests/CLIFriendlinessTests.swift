import Foundation
import CrpodDrivers
import CrpodLinux
import Testing

/// The installed crpod a new user meets: contrib/install.sh puts the binaries, a man page and
/// completions generated from the argument parser in place; long exports show progress on a TTY.
@Suite("install, man page, completions, progress", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct CLIFriendlinessTests {
    static let commands = ["check", "pod create", "pod ls", "run", "ps", "checkpoint", "restore", "archive inspect", "daemon"]

    @Test("contrib/install.sh stages the binaries, crpod(8) naming every command, and bash/zsh/fish completions")
    func installStagesManPageAndCompletions() async throws {
        try await withCrpod { crpod in
            let stage = crpod.base + "/stage"
            let result = try await crpod.runner.run(ContribPaths.repository + "/contrib/install.sh",
                                                    ["--from", PrivilegedHost.binaryDirectory, "--destdir", stage, "--systemd"])
            #expect(result.status == .exited(0), "install.sh: \(result.stderr)")
            let prefix = stage + "/usr/local"
            for binary in ["crpod", "crpod-pause", "crpod-logger", "crpod-sockprobe", "crpod-shmattach"] {
                #expect(access(prefix + "/bin/" + binary, X_OK) == 0, "\(binary) installed executable")
            }
            let manual = try Files.readText(prefix + "/share/man/man8/crpod.8")
            #expect(manual.hasPrefix(".TH CRPOD 8"), "\(manual.prefix(200))")
            for command in Self.commands {
                #expect(manual.contains(".SS crpod \(command)\n"), "the man page has a section for crpod \(command)")
            }
            #expect(manual.contains("allow_rootfs = /var/lib/crpod/rootfs/busybox"), "the daemon's help says how to allow a rootfs")
            #expect(!manual.contains("generate\\-manual"), "the hidden generator is not documented as a command")
            if access("/usr/bin/man", X_OK) == 0 {
                let rendered = try await crpod.runner.run("/usr/bin/man", ["-l", prefix + "/share/man/man8/crpod.8"], environment: ["MANWIDTH": "100", "MANPAGER": "cat", "PATH": "/usr/bin:/bin"])
                #expect(rendered.status == .exited(0) && rendered.stdout.contains("crpod checkpoint") && !rendered.stderr.contains("warning"), "\(rendered.stderr)")
            }
            let bash = try Files.readText(prefix + "/share/bash-completion/completions/crpod")
            let zsh = try Files.readText(prefix + "/share/zsh/site-functions/_crpod")
            let fish = try Files.readText(prefix + "/share/fish/vendor_completions.d/crpod.fish")
            #expect(zsh.hasPrefix("#compdef crpod") && fish.contains("complete -c 'crpod'"))
            for script in [bash, zsh, fish] {
                for word in ["checkpoint", "restore", "daemon", "archive", "export", "watch", "log-level"] {
                    #expect(script.contains(word), "completion names \(word)")
                }
                #expect(!script.contains("generate-manual"), "the hidden generator is not offered")
            }
            #expect(Files.exists(stage + "/etc/systemd/system/crpod.service") && Files.exists(stage + "/etc/crpod/crpod.conf"))
            #expect(Files.exists(prefix + "/share/doc/crpod/README.md"))
        }
    }

    @Test("an export shows a byte counter on stderr when it is a TTY, and nothing when it is not")
    func exportProgressOnlyOnATerminal() async throws {
        try await withCrpod { crpod in
            try await crpod.ok(["pod", "create", "pa"])
            try await crpod.ok(["run", "--name", "c", "--pod", "pa", "--rootfs", PrivilegedHost.rootfs, "--", "sleep", "1000"])
            let piped = try await crpod.run(["checkpoint", "-R", "--export", crpod.base + "/piped.tar.zst", "c"])
            #expect(piped.ok && !piped.stderr.contains("export:"), "no progress into a pipe: \(piped.stderr)")
            // script(1) gives crpod a pseudo-terminal as stdin, stdout and stderr.
            let arguments = [crpod.crpod, "checkpoint", "--root", crpod.root, "--run-root", crpod.runRoot, "--config", crpod.base + "/crpod.conf",
                             "-R", "--export", crpod.base + "/tty.tar.zst", "c"]
            let command = arguments.map { "'" + $0 + "'" }.joined(separator: " ")
            let terminal = try await crpod.runner.run("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"])
            #expect(terminal.status == .exited(0), "\(terminal.stdout)")
            #expect(terminal.stdout.contains("\rexport: ") && terminal.stdout.contains(" MiB ("), "progress on the terminal: \(terminal.stdout.debugDescription)")
            #expect(Files.exists(crpod.base + "/tty.tar.zst"))
        }
    }

    @Test("image push and pull show a byte counter per blob on a TTY, and nothing when stderr is not one")
    func registryProgressOnlyOnATerminal() async throws {
        try await withCrpod { crpod in
            let registry = try RegistryProcess(crpod)
            defer { registry.stop() }
            #expect(try await registry.waitListening())
            let (layer, id) = try await crpod.importBusybox(as: "localhost/busybox:tty")
            let remote = "\(registry.host)/test/busybox:tty"
            let state = ["--root", crpod.root, "--run-root", crpod.runRoot, "--config", crpod.base + "/crpod.conf", "--tls-verify=false"]
            let push = try await onTerminal(crpod, ["image", "push"] + state + [id, remote])
            #expect(push.status == .exited(0) && push.stdout.contains("\rpush \(layer.digest.prefix(12)): ") && push.stdout.contains(" MiB ("), "\(push.stdout.debugDescription)")
            try await crpod.ok(["image", "rm", id])
            let pull = try await onTerminal(crpod, ["image", "pull"] + state + [remote])
            #expect(pull.status == .exited(0) && pull.stdout.contains("\rpull \(layer.digest.prefix(12)): ") && pull.stdout.contains(id), "\(pull.stdout.debugDescription)")
            try await crpod.ok(["image", "rm", id])
            let piped = try await crpod.run(["image", "pull", "--tls-verify=false", remote])
            #expect(piped.ok && !piped.stderr.contains("pull ") && piped.trimmed == id, "no progress into a pipe: \(piped.stderr)")
        }
    }

    /// crpod with a pseudo-terminal (script(1)) as stdin, stdout and stderr.
    func onTerminal(_ crpod: CrpodInstance, _ arguments: [String]) async throws -> ToolResult {
        let command = ([crpod.crpod] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
        return try await crpod.runner.run("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"])
    }
}

enum ContribPaths {
    static let repository: String = {
        var path = #filePath
        for _ in 0..<3 { path = Files.parent(of: path) }
        return path
    }()
}
