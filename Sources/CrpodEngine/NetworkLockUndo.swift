#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux

extension Engine {
    /// Journals, before CRIU runs for a member of pod `podID`, the removal of CRIU's network lock
    /// from the pod's network namespace: a CRIU killed with its crpod (or its runc) can leave the
    /// lock there, dropping every packet of the pod (see CRIUNetworkLock.swift). Nothing to do
    /// for a container without a pod (its netns goes with it).
    func journalNetworkLockRemoval(podID: String?, rollback: Rollback) throws {
        guard let podID, let infra = try? store.pod(podID).infra else { return }
        try rollback.add(.removeCRIUNetworkLock(infra: infra))
    }

    /// Removes CRIU's lock from the infra's netns while the infra lives (the namespace is gone
    /// with it otherwise); a namespace without a lock is left alone. Best effort, logged.
    func removeCRIUNetworkLock(infra: ProcessIdentity) async {
        guard infra.isAlive() else { return }
        let searchPath = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let netns = NamespaceKind.net.procPath(pid: infra.pid)
        do {
            let removed = try await CRIUNetworkUnlocker(searchPath: searchPath).unlock(netns: netns)
            guard !removed.isEmpty else { return }
            logger.warning("CRIU network lock removed", metadata: ["path": "\(netns)", "rules": "\(removed.joined(separator: " | "))"])
        } catch {
            logger.error("cannot remove CRIU's network lock", metadata: ["path": "\(netns)", "error": "\(error)"])
        }
    }
}
