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
import SystemPackage

extension NativeEngine {
    /// `criu restore` of `id`, doing around CRIU what runc's restore does (see the top of
    /// CRIUDriver.swift): the decisions come from `NativeRestorePlanner` (pure), this runs them
    /// as named steps — root mount, cgroup, mount points, CRIU, state. On any failure nothing is
    /// left: what CRIU started is killed through the cgroup, the cgroup is removed when this
    /// restore created it, mounts are undone and no state file is written.
    public func restore(id: String, options: RestoreOptions, stdio: FileDescriptor?, logPath: String) async throws {
        let plan = try restorePlan(id: id, options: options)
        var undo = NativeRestoreUndo(cgroupPath: plan.cgroupPath)
        do {
            try prepareRoot(plan.root, undo: &undo)
            try createCgroup(plan.cgroupPath, undo: &undo)
            try applyLimits(plan.limits, cgroup: plan.cgroupPath, id: id)
            try step("apply the device rules to \(plan.cgroupPath)") {
                try DeviceCgroup.apply(rules: plan.deviceRules, cgroup: plan.cgroupPath, layout: cgroups.layout)
            }
            let pid = try await withMountPoints(plan) { try await runCRIU(plan.criu, stdio: stdio, undo: &undo) }
            if let reattach = options.sysvReattach { try await reattachSysVShm(reattach, cgroup: plan.cgroupPath, id: id, resume: !options.leaveStopped) }
            let created = Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            let identity = try step("read the identity of the restored process \(pid)") { try ProcessIdentity.of(pid: pid) }
            try record(NativeContainerState(id: id, initProcess: identity, bundle: options.bundle, rootfs: plan.root,
                                            cgroupPath: plan.cgroupPath, created: created))
            undo.stateRecorded = true
            try step("write \(options.pidFile)") { try Files.writeAtomically(options.pidFile, Array("\(pid)".utf8), mode: 0o600) }
            try undo.unmountRoot()
        } catch {
            undo.rollBack(engine: self, id: id)
            throw error
        }
    }

    /// The plan from the bundle's config.json, the images and this host's cgroup layout.
    func restorePlan(id: String, options: RestoreOptions) throws -> NativeRestorePlan {
        let specPath = options.bundle + "/config.json"
        let spec = try step("read \(specPath)") { try Self.bundleSpec(options.bundle) }
        let facts = try step("read the images in \(options.imagePath)") { try Self.imageFacts(options.imagePath) }
        let hierarchies = cgroups.layout.hierarchies.map { hierarchy in
            hierarchy.isUnified ? NativeCgroupHierarchy.unified(mountPoint: hierarchy.mountPoint)
                : .v1(mountPoint: hierarchy.mountPoint, controllers: hierarchy.controllers)
        }
        var plan = try NativeRestorePlanner.plan(id: id, spec: spec, bundle: options.bundle, options: options, images: facts,
                                                 hierarchies: hierarchies)
        if let controllers = facts.cgroupControllers {
            plan.criu.cgroupYard = cgroupYard(covering: controllers.map(CRIUCgroupYard.restoreName(controllers:)))
        }
        return plan
    }

    /// descriptors.json (none: no stdio to re-attach) and the external keys of every mount image.
    static func imageFacts(_ images: String) throws -> NativeRestoreImageFacts {
        let descriptorsPath = images + "/descriptors.json"
        var descriptors: [String] = []
        if Files.exists(descriptorsPath) {
            descriptors = try JSONDecoder().decode([String].self, from: Data(Files.read(descriptorsPath, limit: 1 << 16)))
        }
        var keys: [String] = []
        for name in try Files.listDirectory(images).sorted() where NativeRestoreImageFacts.isMountImage(name) {
            keys += NativeRestoreImageFacts.externalKeys(of: try CRIUMountpoints.decode(Files.read(images + "/" + name), image: name))
        }
        var facts = NativeRestoreImageFacts(descriptors: descriptors, externalMountKeys: keys)
        let cgroupImage = images + "/" + CRIUCgroupImage.name
        if Files.exists(cgroupImage) {
            facts.cgroupControllers = try? CRIUCgroupImage.controllers(Files.read(cgroupImage), image: CRIUCgroupImage.name)
        }
        return facts
    }

    /// CRIU wants `--root` to be a mount point: bind a plain directory onto itself (undone
    /// after CRIU, as runc unmounts its criu-root: the container's mount namespace has its copy).
    func prepareRoot(_ root: String, undo: inout NativeRestoreUndo) throws {
        guard !Mounts.isMountPoint(root) else { return }
        let fd = try step("open \(root)") { try MountPoints.create("/", in: root, directory: true) }
        defer { close(fd) }
        try step("bind \(root) onto itself") { try MountPoints.bind(root, onto: fd, path: root) }
        undo.rootBind = root
    }

    /// The container's cgroup in every hierarchy (v1 cpuset gets its parent's cpus and mems).
    func createCgroup(_ cgroup: String, undo: inout NativeRestoreUndo) throws {
        undo.createdCgroup = cgroups.existingDirectories(cgroup).isEmpty
        try step("create cgroup \(cgroup)") { try cgroups.create(cgroup) }
    }

    /// Writes the limits into the cgroup: a v1 write into the hierarchy of its controller, a
    /// v2 write into the unified one. A missing controller or file fails the restore, as in runc.
    func applyLimits(_ limits: [NativeCgroupWrite], cgroup: String, id: String) throws {
        for limit in limits {
            let hierarchy = cgroups.layout.hierarchies.first { hierarchy in
                limit.controller.map { hierarchy.controllers.contains($0) } ?? hierarchy.isUnified
            }
            guard let hierarchy else {
                throw NativeEngineError.unsupported(id: id, what: "no cgroup hierarchy has the \(limit.controller ?? "unified") controller for \(limit.file)")
            }
            let path = hierarchy.mountPoint + cgroup + "/" + limit.file
            try step("write \(limit.value) to \(path)") { try Files.writeExisting(path, limit.value) }
        }
    }

    /// Creates config.json's mount points in the root (rule 7 of the planner) and, for a bind
    /// mount that has other mount points beneath it, binds its source while `body` runs (so
    /// those can be made in it, as runc does); the binds are undone whatever happens.
    func withMountPoints<T>(_ plan: NativeRestorePlan, _ body: () async throws -> T) async throws -> T {
        var bound: [String] = []
        defer { for path in bound.reversed() { try? MountPoints.unmount(path, in: plan.root) } }
        for point in plan.mountPoints {
            let isDirectory = point.bindSource.map(Files.isDirectory) ?? true
            let fd = try step("create mount point \(point.destination) in \(plan.root)") {
                try MountPoints.create(point.destination, in: plan.root, directory: isDirectory)
            }
            defer { close(fd) }
            let nests = plan.mountPoints.contains { $0.destination != point.destination && PathText.isUnder($0.destination, point.destination) }
            if let source = point.bindSource, isDirectory, nests {
                try step("bind \(source) on \(point.destination)") { try MountPoints.bind(source, onto: fd, path: plan.root + point.destination) }
                bound.append(point.destination)
            }
        }
        return try await body()
    }

    /// Runs CRIU with `stdio` (or /dev/null) as its stdout and stderr; returns the restored
    /// root's pid. The pid is noted for the rollback as soon as CRIU names it.
    func runCRIU(_ options: CRIURestoreOptions, stdio: FileDescriptor?, undo: inout NativeRestoreUndo) async throws -> Int32 {
        if unlink(options.pidFilePath) != 0, errno != ENOENT {
            throw DriverError.fileFailed(operation: "remove CRIU's old pidfile", path: options.pidFilePath, errno: Errno(rawValue: errno))
        }
        let devNull = stdio == nil ? try FileDescriptor.open("/dev/null", .writeOnly, options: [.closeOnExec]) : nil
        defer { try? devNull?.close() }
        let pid = try await criu.restore(options, stdio: stdio ?? devNull)
        undo.restoredPid = pid
        return pid
    }

    func step<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as NativeEngineError {
            throw error
        } catch {
            throw NativeRestoreError.step(operation: operation, cause: error)
        }
    }
}

/// What a failed native restore must undo, filled in as the steps run.
struct NativeRestoreUndo {
    let cgroupPath: String
    var rootBind: String?
    var createdCgroup = false
    var restoredPid: Int32?
    var stateRecorded = false

    init(cgroupPath: String) { self.cgroupPath = cgroupPath }

    mutating func unmountRoot() throws {
        guard let root = rootBind else { return }
        try Mounts.unmount(root)
        rootBind = nil
    }

    /// Kills what CRIU started (the cgroup's tasks, and the root task wherever it is), removes
    /// the cgroup if this restore made it, the root's bind mount and the state.
    func rollBack(engine: NativeEngine, id: String) {
        if let restoredPid, let identity = try? ProcessIdentity.of(pid: restoredPid) { try? Processes.signal(identity, SIGKILL) }
        if createdCgroup {
            try? engine.cgroups.killAndRemove(cgroupPath)
        } else {
            try? engine.cgroups.kill(cgroupPath)
        }
        if let rootBind { try? Mounts.unmount(rootBind) }
        if stateRecorded { try? Files.removeTree(engine.stateDirectory(id)) }
    }
}

/// A step of the native restore around CRIU failed (CRIU's own failures are `DriverError`).
public enum NativeRestoreError: Error, CustomStringConvertible {
    case step(operation: String, cause: any Error)

    public var description: String {
        switch self {
        case let .step(operation, cause): return "native restore: cannot \(operation): \(cause)"
        }
    }
}
