#if canImport(Glibc)
import Glibc
#endif
import CrpodDrivers
import CrpodLinux

/// One fact `crpod check` reports.
public struct CheckFact: Codable, Sendable, Equatable {
    public var name: String
    public var ok: Bool
    public var detail: String
    /// A one-line fix when not ok.
    public var fix: String?
    /// Whether a pod restore needs this fact to hold.
    public var required: Bool
}

extension Engine {
    /// Everything a pod restore needs from this host, each fact with a fix.
    public func checkHost() async -> [CheckFact] {
        var facts = [rootFact()] + capabilityFacts()
        facts += await criuFacts()
        if let sockets = await criuSocketFact() { facts.append(sockets) }
        facts += await runtimeFacts()
        facts += cgroupFacts()
        facts.append(await engineFact())
        facts.append(networkFact())
        facts.append(conntrackFact())
        facts.append(criuCacheFact())
        if await resolvedEngineKind() == .native, let yard = cgroupYardFact() { facts.append(yard) }
        facts.append(CheckFact(name: "selinux", ok: true, detail: SELinux.isEnabled ? "enabled" : "disabled (no labels are passed to the runtime)", fix: nil, required: false))
        return facts
    }

    /// Which engine restores and checkpoints here, and why.
    private func engineFact() async -> CheckFact {
        let kind = await resolvedEngineKind()
        let why: String
        switch settings.enginePreference {
        case .auto:
            let version = await criuVersionNumber().map(String.init) ?? "none"
            why = kind == .native ? "auto: CRIU \(version) ≥ \(NativeEngine.minimumCRIUVersion), crpod runs CRIU itself"
                : "auto: CRIU \(version) < \(NativeEngine.minimumCRIUVersion), runc runs CRIU"
        case .runc, .native: why = "chosen (--engine, CRPOD_ENGINE or config key engine)"
        }
        return CheckFact(name: "engine", ok: true, detail: "\(kind.rawValue) (\(why))", fix: nil, required: false)
    }

    private func rootFact() -> CheckFact {
        let root = geteuid() == 0
        return CheckFact(name: "root", ok: root, detail: root ? "running as root" : "running as uid \(geteuid())",
                         fix: root ? nil : "run crpod as root", required: true)
    }

    private func capabilityFacts() -> [CheckFact] {
        [Capabilities.sysAdmin, Capabilities.sysPtrace, Capabilities.checkpointRestore].map { cap in
            let held = (try? Capabilities.isEffective(cap)) ?? false
            return CheckFact(name: cap.name, ok: held, detail: held ? "effective" : "not in the effective set",
                             fix: held ? nil : "run crpod as root (it needs \(cap.name))", required: cap != Capabilities.checkpointRestore)
        }
    }

    private func criuFacts() async -> [CheckFact] {
        let provision = "install CRIU >= 3.16 (contrib/provision.sh) or pass --criu PATH"
        guard let path = settings.criuPath else {
            return [CheckFact(name: "criu", ok: false, detail: "not found (--criu, config, PATH)", fix: provision, required: true)]
        }
        let probe = CRIUProbe()
        var facts: [CheckFact] = []
        do {
            let version = try await probe.version(at: path)
            let ok = version.number >= CRIUVersion.podRestoreMinimum
            facts.append(CheckFact(
                name: "criu", ok: ok, detail: "\(path) (from \(settings.criuSource ?? "?")) version \(version.number)",
                fix: ok ? nil : "restoring containers into pods requires at least CRIU \(CRIUVersion.podRestoreMinimum): \(provision)", required: true))
        } catch {
            facts.append(CheckFact(name: "criu", ok: false, detail: "\(path): \(error)", fix: provision, required: true))
            return facts
        }
        let check = await probe.check(at: path)
        let lastLine = check.output.split(separator: "\n").last.map(String.init) ?? ""
        facts.append(CheckFact(name: "criu check", ok: check.ok, detail: lastLine,
                               fix: check.ok ? nil : "see `\(path) check`; run contrib/provision.sh for a CRIU that works on this kernel", required: true))
        return facts
    }

    private func runtimeFacts() async -> [CheckFact] {
        guard let path = settings.runtimePath else {
            return [CheckFact(name: "runtime", ok: false, detail: "runc not found", fix: "install runc (contrib/provision.sh) or pass --runtime PATH", required: true)]
        }
        let probe = RuntimeProbe()
        let version = (try? await probe.version(at: path)).map { "\($0.name) \($0.version)" } ?? "version unknown"
        var facts = [CheckFact(name: "runtime", ok: true, detail: "\(path) (\(version))", fix: nil, required: true)]
        switch await probe.supportsPodRestore(at: path) {
        case let .supported(evidence):
            facts.append(CheckFact(name: "runtime pod restore", ok: true, detail: "restore --lsm-mount-context: \(evidence)", fix: nil, required: true))
        case let .unsupported(reason):
            facts.append(CheckFact(name: "runtime pod restore", ok: false, detail: "runtime \(path) does not support pod restore: \(reason)",
                                   fix: "use runc >= 1.1 or crun >= 1.18", required: true))
        }
        return facts
    }
}
