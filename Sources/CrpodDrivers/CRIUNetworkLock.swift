#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

// # CRIU's network lock, and removing one a killed crpod left behind
//
// What CRIU 4.2.1 installs in the dumped tree's network namespace (criu/net.c and
// criu/netfilter.c, tag v4.2; SOCCR_MARK is 0xC114 in soccr/soccr.h). CRIU removes it itself when
// it finishes; a CRIU killed with its crpod (or whose runc was killed) may not:
// - `--network-lock iptables` (the default build): `iptables-restore -w --noflush` (and
//   ip6tables-restore when the kernel has IPv6) of
//   `*filter :CRIU - [0:0] -I INPUT -j CRIU -I OUTPUT -j CRIU -A CRIU -m mark --mark 0xC114 -j
//   ACCEPT -A CRIU -j DROP COMMIT`; unlocked by deleting the two jumps, then `-X CRIU`.
// - `--network-lock nftables`: a table `inet CRIU-<run id>` (the dump's run id, kept in the
//   images for the restore) with chains `input` and `output`, policy drop, accepting mark 0xC114;
//   unlocked by `delete table`.
// - `--tcp-established` with iptables also locks each connection: `iptables -w -t filter -I
//   INPUT|OUTPUT --protocol tcp -m mark ! --mark 0xC114 --source A --sport P --destination B
//   --dport Q -j DROP` (with nftables they are elements of sets in the CRIU table).
// `--network-lock skip` (crpod's native dump of a pod member without TCP connections) installs
// nothing, at dump and at restore.

/// Which of CRIU's lock rules a namespace holds, read from `iptables-save` and `nft list
/// tables` output (pure: table-driven tests).
public enum CRIUNetworkLockRules {
    /// CRIU's packet mark, as iptables-save prints it.
    static let mark = "0xc114"

    /// The `iptables-restore --noflush` inputs that delete the lock found in `save` (the output
    /// of `iptables-save -t filter`): first every jump to the CRIU chain and every per-connection
    /// drop in INPUT/OUTPUT, then (a second input, as CRIU does for the iptables-nft backend) the
    /// chain itself. Empty when there is nothing to delete.
    public static func iptablesUnlockScripts(save: String) -> [String] {
        var deletions: [String] = []
        var hasChain = false
        var inFilter = false
        for line in save.split(separator: "\n").map(trimmed) {
            if line.hasPrefix("*") { inFilter = line == "*filter"; continue }
            guard inFilter else { continue }
            if line.hasPrefix(":CRIU ") { hasChain = true }
            guard line.hasPrefix("-A INPUT ") || line.hasPrefix("-A OUTPUT ") else { continue }
            let words = line.split(separator: " ").map(String.init)
            if words.suffix(2) == ["-j", "CRIU"] || isConnectionLock(words) {
                deletions.append("-D" + line.dropFirst(2))
            }
        }
        let table: ([String]) -> String = { (["*filter"] + $0 + ["COMMIT"]).joined(separator: "\n") + "\n" }
        return (deletions.isEmpty ? [] : [table(deletions)]) + (hasChain ? [table(["-F CRIU", "-X CRIU"])] : [])
    }

    /// `-m mark ! --mark 0xc114 … -j DROP`: a connection CRIU locked for `--tcp-established`.
    static func isConnectionLock(_ words: [String]) -> Bool {
        guard words.suffix(2) == ["-j", "DROP"], let index = words.firstIndex(of: "--mark") else { return false }
        return index > 0 && words[index - 1] == "!" && words.indices.contains(index + 1)
            && words[index + 1].lowercased().hasPrefix(mark)
    }

    static func trimmed(_ line: Substring) -> String {
        String(line.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    /// CRIU's nftables lock tables (`inet CRIU-<id>`) in `nft list tables` output.
    public static func nftTables(list: String) -> [String] {
        list.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count == 3, words[0] == "table", words[1] == "inet", words[2].hasPrefix("CRIU-") else { return nil }
            return "inet " + words[2]
        }
    }
}

/// Removes CRIU's network lock from a network namespace, through child processes that enter it
/// (`nsenter --net=<path> <tool>`): crpod never calls setns on its own threads. Tools missing on
/// this host are skipped (a lock needs them to exist). A namespace without a lock is left as is.
public struct CRIUNetworkUnlocker: Sendable {
    public let searchPath: String
    public let runner: ToolRunner

    public init(searchPath: String, runner: ToolRunner = ToolRunner()) {
        self.searchPath = searchPath
        self.runner = runner
    }

    /// Deletes the lock rules in the namespace at `netns`; returns what was deleted (for the log).
    /// Throws when a tool that found a lock could not delete it.
    public func unlock(netns: String) async throws -> [String] {
        guard let nsenter = ToolRunner.which("nsenter", searchPath: searchPath) else { return [] }
        var removed: [String] = []
        for (save, restore) in [("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore")] {
            guard let saveTool = ToolRunner.which(save, searchPath: searchPath),
                  let restoreTool = ToolRunner.which(restore, searchPath: searchPath) else { continue }
            let rules = try await runner.run(nsenter, ["--net=" + netns, saveTool, "-t", "filter"])
            guard rules.succeeded else { continue }
            for script in CRIUNetworkLockRules.iptablesUnlockScripts(save: rules.stdout) {
                try await runFeeding(script, nsenter, ["--net=" + netns, restoreTool, "-w", "--noflush"])
                removed.append("\(restore): " + script.split(separator: "\n").dropFirst().dropLast().joined(separator: "; "))
            }
        }
        if let nft = ToolRunner.which("nft", searchPath: searchPath) {
            let tables = try await runner.run(nsenter, ["--net=" + netns, nft, "list", "tables"])
            for table in tables.succeeded ? CRIUNetworkLockRules.nftTables(list: tables.stdout) : [] {
                try await runChecked(nsenter, ["--net=" + netns, nft, "delete", "table"] + table.split(separator: " ").map(String.init))
                removed.append("nft: delete table \(table)")
            }
        }
        return removed
    }

    /// Runs the tool with `input` on its stdin (a pipe; the scripts are far below its buffer).
    func runFeeding(_ input: String, _ path: String, _ arguments: [String]) async throws {
        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        do {
            _ = try pipe.writeEnd.writeAll(Array(input.utf8))
            try pipe.writeEnd.close()
        } catch {
            try? pipe.writeEnd.close()
            throw DriverError.fileFailed(operation: "write the \(ToolRunner.toolName(arguments[1])) input", path: "pipe",
                                         errno: (error as? Errno) ?? .ioError)
        }
        try await runChecked(path, arguments, stdin: pipe.readEnd)
    }

    func runChecked(_ path: String, _ arguments: [String], stdin: FileDescriptor? = nil) async throws {
        let result = try await runner.run(path, arguments, stdin: stdin)
        guard result.succeeded else {
            throw DriverError.toolFailed(tool: ToolRunner.toolName(arguments[1]), arguments: arguments, status: result.status,
                                         stderrTail: result.diagnosticTail())
        }
    }
}
