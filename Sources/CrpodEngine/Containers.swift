#if canImport(Glibc)
import Glibc
#endif
import CrpodCore
import CrpodDrivers
import CrpodLinux
import SystemPackage

public struct RunRequest: Sendable, Codable {
    public var name: String
    public var pod: String?
    /// The base rootfs directory; ignored when `image` is set.
    public var rootfs: String
    /// A store image (name or ID) whose tree is the base rootfs.
    public var image: String?
    public var env: [String]
    public var workdir: String
    public var command: [String]
    /// `--security-opt seccomp=...`; nil: crpod's default profile.
    public var seccomp: SeccompChoice?
    /// Checked before anything is created (the daemon sets it; nil: none, the root CLI).
    /// The wire form leaves it out (RequestDecoding's CodingKeys): a client never chooses its own.
    public var policy: RestorePolicy?

    public init(
        name: String, pod: String?, rootfs: String, env: [String] = [], workdir: String = "/", command: [String],
        seccomp: SeccompChoice? = nil, image: String? = nil
    ) {
        self.image = image
        self.name = name
        self.pod = pod
        self.rootfs = rootfs
        self.env = env
        self.workdir = workdir
        self.command = command
        self.seccomp = seccomp
    }
}

extension Engine {
    /// Creates and starts a container; on any failure nothing is left behind (runtime state,
    /// cgroup directories, overlay mount, container directory, record).
    public func run(_ request: RunRequest) async throws -> ContainerRecord {
        var request = request
        let image = try request.image.map { try self.image($0) }
        if let image, let name = image.checkpointName {
            throw EngineError.invalidInput(what: "image", detail: "\(request.image ?? "") is a checkpoint image (of container \(name)), not a rootfs: restore it with crpod restore --image")
        }
        if let image { request.rootfs = images.rootfsPath(image) }
        if request.policy != nil, image == nil, let resolved = Files.resolvedPath(request.rootfs) { request.rootfs = resolved }
        try validate(request)
        return try await locked {
            if let existing = try store.containers().first(where: { $0.name == request.name }) {
                throw EngineError.nameInUse(kind: "container", name: request.name, id: existing.id)
            }
            let pod = try request.pod.map { try store.pod($0) }
            if let pod, let infra = pod.infra, !infra.isAlive() {
                throw EngineError.infraNotRunning(pod: pod.name, pid: infra.pid)
            }
            return try await withRollback("run \(request.name)") { rollback in
                var record = try prepareContainer(request, pod: pod, rollback: rollback)
                record.image = image.map { ImageUse($0, asked: request.image) }
                try await startContainer(record, rollback: rollback)
                record.state = "running"
                try store.save(record)
                logger.info("container started", metadata: ["container": "\(record.name)", "pod": "\(pod?.name ?? "")"])
                return record
            }
        }
    }

    private func validate(_ request: RunRequest) throws {
        try NameRule.validate(request.name, what: "container name")
        guard request.rootfs.hasPrefix("/"), Files.isDirectory(request.rootfs) else {
            throw EngineError.rootfsMissing(path: request.rootfs)
        }
        guard !request.command.isEmpty else {
            throw EngineError.invalidInput(what: "command", detail: "no command given to run")
        }
        for entry in request.env where !entry.contains("=") || entry.hasPrefix("=") {
            throw EngineError.invalidInput(what: "--env", detail: "\"\(entry)\" is not KEY=VALUE")
        }
        do {
            _ = try request.seccomp?.linuxSeccomp(capabilities: Set(SpecBuilder.defaultCapabilities))
        } catch let CoreError.invalidSeccompProfile(source, problems) {
            throw EngineError.invalidInput(what: "seccomp profile \(source)", detail: problems.joined(separator: "; "))
        }
        try enforce(request.policy, rootfs: request.rootfs, seccomp: request.seccomp ?? .defaultProfile)
    }

    /// The daemon's policy for a new container, before anything is created. `run` resolved the
    /// rootfs first, so a symlink cannot lead outside the allowed directories.
    private func enforce(_ policy: RestorePolicy?, rootfs: String, seccomp: SeccompChoice) throws {
        guard let policy else { return }
        let effective = images.holds(rootfs: rootfs) ? policy.forStoreImage() : policy
        let violations = effective.runViolations(rootfs: rootfs, seccomp: seccomp)
        if !violations.isEmpty { throw EngineError.policyRefused(problems: violations, operation: "run") }
    }

    /// Directory, overlay mount and config.json of a new container.
    private func prepareContainer(_ request: RunRequest, pod: PodRecord?, rollback: Rollback) throws -> ContainerRecord {
        let id = ObjectID.generate().rawValue
        let directory = store.containerDirectory(id)
        let overlay = Mounts.Overlay(lower: request.rootfs, upper: directory + "/upper", work: directory + "/work", target: directory + "/rootfs")
        try rollback.add(.removeTree(directory))
        try step("create container directory \(directory)") {
            for dir in [directory, overlay.upper, overlay.work, overlay.target, directory + "/bundle"] {
                try Files.makeDirectories(dir, mode: 0o700)
            }
        }
        // The overlay root shows the upper directory's mode: give it the rootfs's own.
        try step("set the mode of \(overlay.upper)") { try Files.copyMode(from: request.rootfs, to: overlay.upper, override: nil) }
        try rollback.add(.unmount(overlay.target))
        try step("mount overlay on \(overlay.target)") { try Mounts.mount(overlay) }
        let record = ContainerRecord(
            id: id, name: request.name, podID: pod?.id, podName: pod?.name, rootfs: request.rootfs,
            bundle: directory + "/bundle", overlay: overlay,
            cgroupPath: (pod?.cgroupPath ?? settings.cgroupParent) + "/" + id,
            command: request.command, env: request.env, workdir: request.workdir,
            logPath: directory + "/ctr.log", created: timestamp(), state: "created")
        var specRequest = specRequest(for: record, pod: pod, seccomp: request.seccomp ?? .defaultProfile)
        specRequest.annotations[CRIUContainerConfig.annotation] = try writeCRIUConfig(record)
        let spec = try step("generate OCI spec") { try SpecBuilder.build(specRequest) }
        let data = try step("encode OCI spec") { try spec.data() }
        try step("write \(record.bundle)/config.json") { try Files.writeAtomically(record.bundle + "/config.json", Array(data), mode: 0o600) }
        return record
    }

    func specRequest(for record: ContainerRecord, pod: PodRecord?, seccomp: SeccompChoice = .defaultProfile) -> ContainerSpecRequest {
        var joins: [String: String] = [:]
        var privates: [String] = []
        for kind in NamespaceKind.podShareable {
            if let pod, let infra = pod.infra, pod.sharedKinds.contains(kind) {
                joins[kind.ociType] = kind.procPath(pid: infra.pid)
            } else if kind == .net && pod?.network?.mode == .host {
                continue  // neither joined nor private: the host's network namespace
            } else {
                privates.append(kind.ociType)
            }
        }
        let limits = ResourceLimits.current().map { RLimit(type: $0.name, soft: $0.hard, hard: $0.hard) }
        var annotations = ["io.crpod.container.name": record.name]
        if let pod {
            annotations["io.kubernetes.cri-o.SandboxID"] = pod.id
            annotations["io.crpod.pod.name"] = pod.name
        }
        var request = ContainerSpecRequest(
            args: record.command, env: record.env, workdir: record.workdir, rootfsPath: record.overlay.target,
            hostname: pod == nil ? record.name : nil, joinNamespaces: joins, privateNamespaces: privates,
            cgroupsPath: record.cgroupPath, rlimits: limits, annotations: annotations, seccomp: seccomp)
        // Members in the pod's IPC namespace share its /dev/shm too, as podman's do.
        if joins[NamespaceKind.ipc.ociType] != nil { request.devShmSource = pod?.shmDirectory }
        return request
    }

    /// Logger first (it holds the read end of the output pipe), then runtime create + start.
    private func startContainer(_ record: ContainerRecord, rollback: Rollback) async throws {
        let runtime = try runtime()
        try rollback.add(.deleteRuntime(id: record.id, cgroup: record.cgroupPath))
        try await withOutputPipe(logPath: record.logPath) { output in
            try await step("runtime create \(record.name)") {
                try await runtime.create(id: record.id, bundle: record.bundle, pidFile: record.bundle + "/pid",
                                         stdio: output, logPath: record.bundle + "/runtime.log")
            }
        }
        FaultPoint.runAfterCreate.hit()
        try await step("runtime start \(record.name)") { try await runtime.start(id: record.id) }
    }

    /// Starts crpod-logger on the read end of a new pipe (appending to `logPath`) and hands
    /// the write end to `body`, which gives it to the container; crpod's copy is closed after.
    func withOutputPipe<T>(logPath: String, _ body: (FileDescriptor) async throws -> T) async throws -> T {
        let (readEnd, writeEnd) = try step("create output pipe") { try FileDescriptor.pipe() }
        defer { try? writeEnd.close() }
        let logger = try settings.helperPath("crpod-logger")
        let started = try await step("start \(logger)") {
            defer { try? readEnd.close() }
            return try await runner.run(logger, [logPath], stdin: readEnd)
        }
        guard started.succeeded else {
            throw EngineError.step("start crpod-logger", cause: EngineError.invalidInput(what: "logger", detail: started.stderr))
        }
        return try await body(writeEnd)
    }
}
