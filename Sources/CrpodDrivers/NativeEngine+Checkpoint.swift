#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import CrpodLinux

/// The container a native dump stops: its init, bundle, root and cgroup.
struct NativeDumpTarget: Sendable, Equatable {
    var id: String
    var initPid: Int32
    var bundle: String
    /// The root the engine recorded (nil: the spec's `root.path`).
    var rootfs: String?
    /// The cgroup the engine recorded (nil: the spec's `linux.cgroupsPath`).
    var cgroupPath: String?
}

extension NativeEngine {
    /// `criu dump` of `id`: the native engine's own container (its state file), or the one
    /// `options.startedElsewhere` names (a runc container: its init and bundle). What runc does
    /// around CRIU is done here too (see the top of CRIUDriver.swift); the options are decided
    /// by `NativeDumpPlan.make` from facts read first. A task of the container outside its
    /// init's tree is refused before anything is dumped. On failure the container keeps
    /// running: CRIU resumes the seized tree, and a CRIU killed at the time limit detaches
    /// from it by dying (no cgroup freezer is left frozen).
    public func checkpoint(id: String, options: CheckpointOptions, logPath: String?) async throws {
        let target = try dumpTarget(id: id, options: options)
        let facts = try dumpFacts(target)
        let strays = NativeDumpPlan.strayTasks(facts)
        guard strays.isEmpty else { throw NativeEngineError.tasksOutsideTree(id: id, pids: strays) }
        let plan = NativeDumpPlan.make(facts, options)
        try writeDescriptors(plan.descriptors, imagePath: options.imagePath)
        try await criu.dump(plan.criu, timeLimit: options.timeLimit)
        if !options.leaveRunning, let cgroup = target.cgroupPath ?? facts.spec.cgroupsPath {
            try await requireEmptied(id: id, cgroup: cgroup)
        }
    }

    func dumpTarget(id: String, options: CheckpointOptions) throws -> NativeDumpTarget {
        if let elsewhere = options.startedElsewhere {
            return NativeDumpTarget(id: id, initPid: elsewhere.pid, bundle: elsewhere.bundle)
        }
        guard let recorded = try recordedState(id: id) else { throw NativeEngineError.notFound(id: id) }
        guard recorded.initProcess.isAlive() else { throw NativeEngineError.notRunning(id: id) }
        return NativeDumpTarget(id: id, initPid: recorded.initProcess.pid, bundle: recorded.bundle, rootfs: recorded.rootfs,
                                cgroupPath: recorded.cgroupPath)
    }

    /// Reads what the dump decision needs: the spec, the namespaces it joins, the container's
    /// mounts and masked files, its cgroup's processes, stdio, CRIU's config file.
    func dumpFacts(_ target: NativeDumpTarget) throws -> NativeDumpFacts {
        let pid = target.initPid
        let specPath = target.bundle + "/config.json"
        let spec = try Self.bundleSpec(target.bundle)
        guard let root = target.rootfs ?? spec.rootPath.map({ $0.hasPrefix("/") ? $0 : target.bundle + "/" + $0 }) else {
            throw NativeEngineError.unsupported(id: target.id, what: "\(specPath) names no root.path")
        }
        var facts = NativeDumpFacts(initPid: pid, spec: spec, root: root)
        for kind in [NamespaceKind.net, .pid] where spec.namespacePath(type: kind.ociType) != nil {
            facts.joinedNamespaceInodes[kind] = try NamespaceRef.of(pid: pid, kind: kind).inode
        }
        facts.containerMounts = try MountTable.parse(Files.readText("/proc/\(pid)/mounts"), file: "/proc/\(pid)/mounts")
        facts.maskedFiles = Set(spec.maskedPaths.filter { Self.isNonDirectory("/proc/\(pid)/root" + $0) })
        if let cgroup = target.cgroupPath ?? spec.cgroupsPath {
            facts.cgroupProcesses = Self.parents(of: cgroups.processes(cgroup))
        }
        facts.configFile = Self.criuConfigFile(spec)
        facts.stdioTargets = (0...2).map { Files.readLink("/proc/\(pid)/fd/\($0)") ?? "" }
        if let names = CRIUCgroupYard.dumpNames(ofProcess: String(pid)) { facts.cgroupYard = cgroupYard(covering: names) }
        return facts
    }

    /// The cgroup yard (under `cgroupYardRoot`) for a CRIU run that opens the
    /// hierarchies `names`; nil when this host's yard lacks one or cannot be made (CRIU then
    /// mounts the hierarchies itself, as it would without crpod).
    func cgroupYard(covering names: [String]) -> String? {
        let yard = CRIUCgroupYard(layout: cgroups.layout)
        guard yard.covers(names) else { return nil }
        return try? yard.materialize(under: cgroupYardRoot)
    }

    /// runc's `descriptors.json`: a JSON array of what fds 0, 1 and 2 were.
    func writeDescriptors(_ descriptors: [String], imagePath: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let path = imagePath + "/" + NativeDumpPlan.descriptorsFile
        do {
            try Files.writeAtomically(path, Array(try encoder.encode(descriptors)), mode: 0o600)
        } catch {
            throw NativeEngineError.stateUnwritable(path: path, detail: "\(error)")
        }
    }

    /// After a dump that stops the container, no live task may remain in its cgroup: one that
    /// does escaped CRIU's walk (it left the tree while the tree was being seized), so the
    /// checkpoint lacks it. It is killed (the container is gone) and the dump refused.
    func requireEmptied(id: String, cgroup: String) async throws {
        var alive: [Int32] = []
        for _ in 0..<20 {
            alive = cgroups.processes(cgroup).filter { pid in
                (try? ProcStat.parse(Files.readText("/proc/\(pid)/stat")))?.isZombieOrDead == false
            }
            if alive.isEmpty { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        try? cgroups.kill(cgroup)
        throw NativeEngineError.dumpIncomplete(id: id, pids: alive.sorted())
    }

    /// The CRIU config file runc would pass: the `org.criu.config` annotation's file (none when
    /// the annotation is empty), else runc's default, when the file exists.
    static func criuConfigFile(_ spec: OCISpec) -> String? {
        let path = spec.annotations[CRIUContainerConfig.annotation] ?? CRIUContainerConfig.defaultPath
        return !path.isEmpty && Files.exists(path) ? path : nil
    }

    /// pid → parent pid of each live process in `pids` (vanished ones are left out).
    static func parents(of pids: [Int32]) -> [Int32: Int32] {
        var parents: [Int32: Int32] = [:]
        for pid in pids {
            guard let stat = Processes.runningStat(pid) else { continue }
            parents[pid] = stat.parentPID
        }
        return parents
    }

    static func isNonDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFDIR
    }
}
