#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodEngine
#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux

extension Daemon {
    /// The configured boot list, in order: each archive restored into its pod with retries;
    /// one summary line per item (log and STATUS). An item whose container already runs is
    /// skipped, so a daemon restart does not restore twice.
    func restoreBootList(_ settings: DaemonConfig, jobs: JobRegistry) async {
        let items = settings.bootRestores
        for (index, item) in items.enumerated() {
            let line = await restoreBootItem(item, settings: settings, jobs: jobs)
            let summary = "boot restore \(index + 1)/\(items.count) \(item.archive) -> pod \(item.pod): \(line)"
            engine.logger.notice("\(summary)")
            FileHandleOutput.standardError(summary)
            notify([.status(summary)])
        }
    }

    func restoreBootItem(_ item: BootRestore, settings: DaemonConfig, jobs: JobRegistry) async -> String {
        if let name = item.name, let running = try? await engine.inspectContainer(name), running.isRunning {
            return "already running as \(name)"
        }
        var request = RestoreRequest(importPath: item.archive)
        request.pod = item.pod
        request.name = item.name
        var lastError = ""
        for attempt in 1...(settings.bootRetries + 1) {
            let started = ContinuousClock.now
            do {
                let outcome = try await restoreAsJob(request, jobs: jobs, kind: "boot-restore")
                return "restored as \(outcome.name) (\(outcome.id.prefix(12))) in \(Int(APIRouter.seconds(since: started) * 1000)) ms, attempt \(attempt)"
            } catch {
                lastError = "\(error)"
                engine.logger.warning("boot restore attempt failed", metadata: ["archive": "\(item.archive)", "attempt": "\(attempt)", "error": "\(error)"])
                if Self.isPermanent(error) { return "FAILED (not retried: the archive itself is refused): \(lastError)" }
                if attempt <= settings.bootRetries { try? await Task.sleep(for: .seconds(settings.bootRetryDelaySeconds)) }
            }
        }
        return "FAILED after \(settings.bootRetries + 1) attempts: \(lastError)"
    }

    /// Failures no retry can change, because they are about the archive's own content: an
    /// invalid archive, the daemon's policy, the image rule. A missing pod or a busy host may
    /// change at boot, so those are retried.
    static func isPermanent(_ error: any Error) -> Bool {
        ["archive_invalid", "policy_refused", "image_rule_refused"].contains(FailureClass.of(error).code)
    }
}

/// A line on stderr, unbuffered.
enum FileHandleOutput {
    static func standardError(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
