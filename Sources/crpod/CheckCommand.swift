import ArgumentParser
import CrpodService
import CrpodEngine

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that this host can checkpoint and restore containers into pods.",
        discussion: """
            Prints one line per fact: ok, warn (works, but slower or limited; with a fix) or FAIL (with a fix). \
            Exits 1 when a pod restore could not work here (a FAIL). \
            CRIU is proven, not assumed: it must dump crpod-sockprobe (a TCP listener, an established loopback \
            pair and a UDP socket) with --tcp-established; the answer is cached per CRIU and kernel release.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "table or json") var format: OutputFormat = .table

    func run() async throws {
        let facts = try await global.client().checkHost()
        switch format {
        case .json: try Output.json(facts)
        case .table:
            for fact in facts {
                let fix = fact.ok ? "" : "  → \(fact.fix ?? "")"
                print("\(fact.ok ? "ok  " : fact.required ? "FAIL" : "warn") \(fact.name.padding(toLength: 22)) \(fact.detail)\(fix)")
            }
        }
        if facts.contains(where: { $0.required && !$0.ok }) { throw ExitCode(1) }
    }
}
