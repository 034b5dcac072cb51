#if canImport(Glibc)
import Glibc
#endif
import CrpodDrivers
import CrpodLinux

/// A container with its live facts, as `ps` and `inspect` show it.
public struct ContainerView: Codable, Sendable {
    public var record: ContainerRecord
    /// running, created, exited, paused, ... (from the runtime; `unknown` if it has no state).
    public var status: String
    public var pid: Int32?
    public var namespaces: [NamespaceRef]

    public var isRunning: Bool { status == "running" || status == "paused" }
}

extension Engine {
    public func listContainers(all: Bool) async throws -> [ContainerView] {
        await reconcileIfInterrupted()
        var views: [ContainerView] = []
        for record in try store.containers() {
            let view = try await view(of: record)
            if all || view.isRunning { views.append(view) }
        }
        return views
    }

    public func inspectContainer(_ reference: String) async throws -> ContainerView {
        try await view(of: try store.container(reference))
    }

    func view(of record: ContainerRecord) async throws -> ContainerView {
        let state = try await step("runtime state \(record.name)") { try await containerEngine(for: record).state(id: record.id, logPath: nil) }
        let status: String
        switch state?.status.rawValue {
        case nil: status = record.state == "running" ? "exited" : record.state
        case "stopped": status = "exited"
        case let live?: status = live
        }
        let pid = state.flatMap { $0.pid > 0 && status != "exited" ? Int32($0.pid) : nil }
        let namespaces = pid.flatMap { try? NamespaceRef.all(pid: $0) } ?? []
        return ContainerView(record: record, status: status, pid: pid, namespaces: namespaces)
    }

    public func logs(_ reference: String) throws -> [UInt8] {
        let record = try store.container(reference)
        guard Files.exists(record.logPath) else { return [] }
        return try step("read \(record.logPath)") { try Files.read(record.logPath, limit: 256 << 20) }
    }

    /// SIGTERM, then SIGKILL to every process of the container after `timeout` seconds.
    public func stop(_ reference: String, timeout: Double) async throws -> ContainerRecord {
        try await locked {
            var record = try store.container(reference)
            try await stopLocked(record, timeout: timeout)
            record.state = "exited"
            try store.save(record)
            return record
        }
    }

    func stopLocked(_ record: ContainerRecord, timeout: Double) async throws {
        let runtime = try containerEngine(for: record)
        guard let state = try await runtime.state(id: record.id, logPath: nil), state.status.rawValue != "stopped" else { return }
        let identity = try? ProcessIdentity.of(pid: Int32(state.pid))
        if timeout > 0 {
            try await step("signal \(record.name)") { try await runtime.kill(id: record.id, signal: SIGTERM, all: false, logPath: nil) }
            if let identity, Processes.waitForExit(identity, seconds: timeout) {
                return try await waitUntilStopped(record, runtime: runtime)
            }
        }
        // cgroup.kill (v2) kills every task in the container's cgroup at once, wherever runc's
        // own bookkeeping thinks they are; runc's kill then covers an init outside it.
        try step("kill the cgroup of \(record.name)") { try cgroups().kill(record.cgroupPath) }
        if let state = try await runtime.state(id: record.id, logPath: nil), state.status.rawValue != "stopped" {
            try await step("kill \(record.name)") { try await runtime.kill(id: record.id, signal: SIGKILL, all: true, logPath: nil) }
        }
        try await waitUntilStopped(record, runtime: runtime)
    }

    private func waitUntilStopped(_ record: ContainerRecord, runtime: any ContainerEngine) async throws {
        for _ in 0..<100 {
            guard let state = try await runtime.state(id: record.id, logPath: nil), state.status.rawValue != "stopped" else { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw EngineError.step("stop \(record.name)", cause: LinuxError.timedOut(operation: "wait for container to stop", path: nil, seconds: 5))
    }

    public func removeContainer(_ reference: String, force: Bool) async throws -> ContainerRecord {
        try await locked {
            let record = try store.container(reference)
            try await removeContainerLocked(record, force: force)
            return record
        }
    }

    /// Deletes runtime state, cgroup directories, the overlay mount, the directory and the record.
    func removeContainerLocked(_ record: ContainerRecord, force: Bool) async throws {
        let runtime = try containerEngine(for: record)
        let state = try await runtime.state(id: record.id, logPath: nil)
        if let state, ["running", "paused", "created"].contains(state.status.rawValue) {
            guard force else { throw EngineError.containerRunning(name: record.name) }
            try await stopLocked(record, timeout: 0)
        }
        if state != nil {
            try await step("runtime delete \(record.name)") { try await runtime.delete(id: record.id, force: true, logPath: nil) }
        }
        let cgroups = try cgroups()
        try step("remove cgroup \(record.cgroupPath)") { try cgroups.killAndRemove(record.cgroupPath) }
        if let holder = record.namespaceHolder {
            try step("stop the namespace holder of \(record.name)") { try Processes.terminate(holder, grace: 2) }
        }
        try step("unmount \(record.overlay.target)") { try Mounts.unmount(record.overlay.target) }
        try step("remove \(store.containerDirectory(record.id))") { try Files.removeTree(store.containerDirectory(record.id)) }
        logger.info("container removed", metadata: ["container": "\(record.name)"])
    }
}
