import ArgumentParser
import CrpodEngine
import CrpodLinux
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run the auto-restore spool: archives dropped into watched directories are restored into pods.",
        discussion: "An archive counts once fully written (closed after writing, or renamed in; *.part and dotfiles are ignored). Its pod: a <archive>.target sidecar (write it first), else the directory's default (--watch DIR:POD), else a pod named like the archive's own. Handled archives move to done/ or failed/ with a .result.json; the same archive (by SHA-256) is never restored twice. Speaks the systemd notify protocol (READY=1, STATUS=, WATCHDOG=1 when WATCHDOG_USEC is set, STOPPING=1); SIGTERM or SIGINT stops it; contrib/systemd/crpod.service runs it. The HTTP API is not built yet."
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("watch"), help: ArgumentHelp("Spool directory, optionally with a default pod (repeatable; default <root>/spool/incoming).", valueName: "dir[:pod]"))
    var watch: [String] = []

    func run() async throws {
        let engine = try global.engine()
        let given = watch.map(SpoolDirectory.init(argument:))
        let directories = given.isEmpty ? [SpoolDirectory(path: engine.settings.root + "/spool/incoming")] : given
        for directory in directories { try Files.makeDirectories(directory.path, mode: 0o700) }
        let spool = SpoolService(engine: engine, directories: directories)
        let work = Task {
            try await spool.run(ready: {
                _ = try? Systemd.notify([.status("watching \(directories.map(\.path).joined(separator: ", "))"), .ready])
            })
        }
        let signals = stopOnSignals { work.cancel() }
        defer { signals.forEach { $0.cancel() } }
        let watchdog = Task { await pingWatchdog() }
        defer { watchdog.cancel() }
        do { try await work.value } catch is CancellationError {}
        _ = try? Systemd.notify([.stopping])
    }

    /// WATCHDOG=1 at half the interval systemd asked for (WatchdogSec=), while the daemon lives.
    private func pingWatchdog() async {
        guard let interval = Systemd.watchdogInterval() else { return }
        while !Task.isCancelled {
            _ = try? Systemd.notify([.watchdog])
            try? await Task.sleep(for: interval / 2)
        }
    }

    /// SIGTERM and SIGINT run `stop` (on a Dispatch queue, never in a signal handler).
    private func stopOnSignals(_ stop: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: stop)
            source.resume()
            return source
        }
    }
}
