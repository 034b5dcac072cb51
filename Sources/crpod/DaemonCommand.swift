import ArgumentParser
import CrpodEngine
import CrpodLinux
import CrpodService
import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run crpod as a service: the HTTP API on a Unix socket, the auto-restore spool, restore on boot.",
        discussion: """
        At start it rolls back whatever a killed crpod left half done, listens (default <run-root>/crpod.sock, mode 0660, root plus the config's socket_group; or the socket systemd passes in), restores the config's boot_restore list in order with retries (a whole-pod archive, ARCHIVE:POD, creates pod POD; a stale pod of that name whose infra is gone is replaced), then watches the spool directories and sends READY=1.

        API (HTTP/JSON): /v1/health, /metrics (Prometheus), /v1/host/check, /v1/pods[/REF], /v1/containers[/REF[/logs|/stop]], POST /v1/checkpoint, POST /v1/restore, PUT /v1/restore/upload?pod=P&name=N (archive as the body), POST /v1/archives/inspect, /v1/jobs[/ID]. Restores and checkpoints run as jobs (max_jobs at once, max_queued waiting; ?async=true answers 202 with the job). Errors are {"error", "status", "code"}: status and code come from the error's type (README lists the codes). Archive paths must lie under an api_dir and are opened once, without following symlinks or blocking, as regular files. Other crpod commands use it with --remote SOCKET or CRPOD_HOST.

        Spool: an archive counts once fully written (closed after writing, or renamed in; *.part and dotfiles are ignored). Its pod: a <archive>.target sidecar (write it first; at most 256 bytes, one pod name or ID — a bad one fails the archive), else the directory's default (--watch DIR:POD), else pod_map, else a pod named like the archive's own. A whole-pod archive (crpod pod checkpoint) becomes a new pod: named by its sidecar, else after the file and its hash. Items are opened once without following symlinks or blocking; a FIFO, socket, device, symlink or oversized file is moved unopened to failed/ with the reason. It moves to processing/, then done/ or failed/ with a .result.json; the same archive (by SHA-256) is never restored twice, and an archive interrupted by a crash is settled exactly once at the next start. An archive holding established TCP connections (checkpointed with --tcp-established) is restored with --tcp-established when its connections' address is kept (a pod archive: the new pod gets it), else it fails with the reason; API restore requests without tcpEstablished are decided the same way. API runs and restores from the API, the spool and the boot list obey the config's policy: the base rootfs an image of the local store (crpod image import; always allowed) or a directory under allow_rootfs (none configured: no host directory), bind sources under allow_bind_source, no capabilities beyond runc's defaults but allow_capability, no devices (and, for API runs, no seccomp setting but the default profile) unless allow_privileged; OCI hooks and joins of mount/user namespaces are never allowed.

        Allowing restores: out of the box the daemon restores and runs nothing (it warns at start). List every base rootfs directory its archives and API runs use, one line each, in the config file (default /etc/crpod/crpod.conf): `allow_rootfs = /var/lib/crpod/rootfs/busybox`; a container's rootfs must be that directory or lie under it (symlinks resolved). Host bind-mount sources need `allow_bind_source = DIR`, capabilities beyond runc's defaults `allow_capability = CAP_X`, devices `allow_privileged = true`. Archives for the API go under an api_dir (default <root>/spool and <root>/archives; `api_dir = DIR` replaces them). Pulls by the daemon (POST /v1/images/pull, restore --image through the API) take registry credentials from `registry_auth_file = FILE` (containers-auth.json; crpod login --authfile FILE writes one; the file is read at each pull, the key at start; $REGISTRY_AUTH_FILE in the daemon's environment wins; without either, /run/containers/0/auth.json when it exists), never from the client; `allow_registry = HOST[:PORT]` lines limit the registries such pulls may contact (none: any). Send SIGHUP (systemctl reload crpod) to apply.

        Logs (stderr, default level info; journald under systemd): one line per restore from the spool or the API (the archive, where it came from, the pod and name, the time it took) and one per refusal (the file, the stable code, the reason); a warning at start and on reload when the policy allows no rootfs.

        systemd: READY=1, STATUS=, WATCHDOG=1 when WATCHDOG_USEC is set, RELOADING=1 on SIGHUP (reloads access and policy), STOPPING=1 on SIGTERM/SIGINT (in-flight jobs finish first); journald fields when JOURNAL_STREAM is stderr. contrib/systemd/ has crpod.service and crpod.socket; contrib/crpod.conf.example lists every key.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("API socket path (default <run-root>/crpod.sock, or the config's socket).", valueName: "path"))
    var socket: String?
    @Option(name: .customLong("watch"), help: ArgumentHelp("Spool directory, optionally with a default pod (repeatable; default <root>/spool/incoming).", valueName: "dir[:pod]"))
    var watch: [String] = []

    func validate() throws {
        if global.remote != nil { throw ValidationError("--remote names a daemon to talk to; the daemon itself takes --socket") }
    }

    func run() async throws {
        let engine = try global.engine(defaultLevel: .info)
        let daemon = try Daemon(engine: engine, configPath: global.config ?? ProcessInfo.processInfo.environment["CRPOD_CONFIG"],
                                socket: socket, watch: watch.map(SpoolDirectory.init(argument:)))
        let work = Task { try await daemon.run() }
        let signals = onSignals([SIGTERM, SIGINT]) { work.cancel() } + onSignals([SIGHUP]) { daemon.reload() }
        defer { signals.forEach { $0.cancel() } }
        let watchdog = Task { await pingWatchdog() }
        defer { watchdog.cancel() }
        try await work.value
    }

    /// WATCHDOG=1 at half the interval systemd asked for (WatchdogSec=), while the daemon lives.
    private func pingWatchdog() async {
        guard let interval = Systemd.watchdogInterval() else { return }
        while !Task.isCancelled {
            _ = try? Systemd.notify([.watchdog])
            try? await Task.sleep(for: interval / 2)
        }
    }

    /// Runs `action` for each of `numbers` (on a Dispatch queue, never in a signal handler).
    private func onSignals(_ numbers: [Int32], _ action: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
    }
}
