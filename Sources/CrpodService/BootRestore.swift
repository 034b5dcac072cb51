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
        if await ArchiveInspector.isPodArchive(path: item.archive) { return await restoreBootPod(item, settings: settings, jobs: jobs) }
        if let name = item.name, let running = try? await engine.inspectContainer(name), running.isRunning {
            return "already running as \(name)"
        }
        var request = RestoreRequest(importPath: item.archive)
        request.pod = item.pod
        request.name = item.name
        return await withBootRetries(item, settings: settings) { attempt, started in
            let outcome = try await self.restoreAsJob(request, jobs: jobs, kind: "boot-restore")
            return "restored as \(outcome.name) (\(outcome.id.prefix(12))) in \(Int(APIRouter.seconds(since: started) * 1000)) ms, attempt \(attempt)"
        }
    }

    /// A whole-pod archive in the boot list: `ARCHIVE:POD` creates pod POD with every member (an
    /// appliance needs no pod made beforehand). A pod of that name whose infra runs is left
    /// alone (a daemon restart); one whose infra is gone — the previous boot's — is removed first.
    func restoreBootPod(_ item: BootRestore, settings: DaemonConfig, jobs: JobRegistry) async -> String {
        if item.name != nil {
            return "FAILED (not retried: a whole-pod archive's members keep their names): use boot_restore = ARCHIVE:POD, POD being the pod it creates"
        }
        var removed = ""
        if let existing = try? engine.inspectPod(item.pod) {
            if existing.infraRunning { return "already running as pod \(item.pod)" }
            do {
                _ = try await engine.removePod(item.pod, force: true)
                removed = "; the stale pod \(item.pod) (its infra gone, an earlier boot's) was removed first"
            } catch {
                return "FAILED: the stale pod \(item.pod) (infra gone) could not be removed: \(error)"
            }
        }
        var request = PodRestoreRequest(importPath: item.archive)
        request.name = item.pod
        return await withBootRetries(item, settings: settings) { attempt, started in
            let outcome = try await self.restorePodAsJob(request, jobs: jobs, kind: "boot-pod-restore")
            return "restored as pod \(outcome.podName) with \(outcome.members.map(\.name).joined(separator: ", ")) in "
                + "\(Int(APIRouter.seconds(since: started) * 1000)) ms, attempt \(attempt)\(removed)"
        }
    }

    /// Runs `body` (attempt number, its start) up to boot_retries + 1 times; its line, or why it failed.
    func withBootRetries(_ item: BootRestore, settings: DaemonConfig,
                         _ body: (Int, ContinuousClock.Instant) async throws -> String) async -> String {
        var lastError = ""
        for attempt in 1...(settings.bootRetries + 1) {
            do {
                return try await body(attempt, ContinuousClock.now)
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
