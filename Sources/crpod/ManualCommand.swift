import ArgumentParser

/// `crpod generate-manual`: the man page crpod(8), written from the argument parser itself —
/// every command's abstract, discussion and full help (usage, arguments, options) — so it
/// cannot drift from `--help`. `contrib/install.sh` installs it; shell completions come from
/// swift-argument-parser's own `crpod --generate-completion-script bash|zsh|fish`.
struct ManualCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-manual",
        abstract: "Print the crpod(8) man page (troff), generated from every command's help.",
        shouldDisplay: false
    )

    @Option(help: ArgumentHelp("Date in the page footer (default: none, so the output is reproducible).", valueName: "text"))
    var date: String = ""

    func run() {
        print(ManualPage.render(Crpod.self, date: date), terminator: "")
    }
}

/// Renders a command tree as one man page in section 8 (system administration commands).
enum ManualPage {
    static func render(_ root: any ParsableCommand.Type, date: String) -> String {
        let name = root.configuration.commandName ?? "crpod"
        var page = [
            ".TH \(name.uppercased()) 8 \(quoted(date)) \(quoted("\(name) \(root.configuration.version)")) \(quoted("System Administration\\ Commands"))",
            ".SH NAME",
            "\(name) \\- \(escape(root.configuration.abstract))",
            ".SH SYNOPSIS",
            ".B \(name)",
            "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]",
            ".SH DESCRIPTION",
        ]
        page += paragraphs(root.configuration.discussion)
        page += [".SH COMMANDS"]
        for (path, command) in commands(under: root, path: [name]) {
            page += [".SS \(escape(path.joined(separator: " ")))"] + preformatted(root.helpMessage(for: command, columns: 78))
        }
        page += [
            ".SH FILES",
            ".TP", "\\fI/etc/crpod/crpod.conf\\fR", "Configuration (key = value lines); every key is listed in crpod.conf.example.",
            ".TP", "\\fI/var/lib/crpod\\fR", "State (--root).",
            ".TP", "\\fI/run/crpod\\fR", "Runtime state and the daemon's socket crpod.sock (--run-root).",
            ".SH SEE ALSO",
            ".BR runc (8),", ".BR criu (8),", ".BR systemd.service (5)",
        ]
        return page.joined(separator: "\n") + "\n"
    }

    /// Every visible command below `command` (depth first), with its full name.
    static func commands(under command: any ParsableCommand.Type, path: [String]) -> [([String], any ParsableCommand.Type)] {
        command.configuration.subcommands.filter { $0.configuration.shouldDisplay }.flatMap { sub in
            let subPath = path + [sub.configuration.commandName ?? "\(sub)"]
            return [(subPath, sub)] + commands(under: sub, path: subPath)
        }
    }

    static func paragraphs(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: true).flatMap { [".PP", escape(String($0))] }
    }

    static func preformatted(_ text: String) -> [String] {
        [".nf", ".RS 4"] + text.split(separator: "\n", omittingEmptySubsequences: false).map { escape(String($0)) } + [".RE", ".fi"]
    }

    static func quoted(_ text: String) -> String { "\"" + text.replacing("\"", with: "\\(dq") + "\"" }

    /// Backslashes, and lines that troff would read as requests (leading `.` or `'`).
    static func escape(_ line: String) -> String {
        let text = line.replacing("\\", with: "\\e").replacing("-", with: "\\-")
        return text.hasPrefix(".") || text.hasPrefix("'") ? "\\&" + text : text
    }
}
