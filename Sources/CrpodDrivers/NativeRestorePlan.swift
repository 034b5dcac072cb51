import CrpodCore

/// What the native restore needs to know of a checkpoint's images (the executor reads them).
public struct NativeRestoreImageFacts: Sendable, Equatable {
    /// `descriptors.json` (written by runc at dump): what fds 0, 1, 2 were (`pipe:[<ino>]`,
    /// `/dev/null`, ...).
    public var descriptors: [String]
    /// Every external mount key of every `mountpoints-*.img` (CRIU's `ext_key`; an older image's
    /// `ext_mount` keeps the key in `root`).
    public var externalMountKeys: [String]
    /// The hierarchies `cgroup.img` names (each as its controller names; none without the
    /// image); nil when the image cannot be read (no cgroup yard then: CRIU judges the image).
    public var cgroupControllers: [[String]]? = []

    public init(descriptors: [String], externalMountKeys: [String]) {
        self.descriptors = descriptors
        self.externalMountKeys = externalMountKeys
    }

    /// `mountpoints-<id>.img`: one mount namespace's mounts.
    public static func isMountImage(_ name: String) -> Bool {
        let prefix = "mountpoints-", suffix = ".img"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return false }
        return name.dropFirst(prefix.count).dropLast(suffix.count).allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// The external mount keys of decoded mount images.
    public static func externalKeys(of mounts: [CRIUMountEntry]) -> [String] {
        mounts.filter(\.isExternal).map { $0.extKey ?? $0.root }
    }
}

/// One cgroup hierarchy of the host: where it is mounted, and its controllers as
/// `--cgroup-root` names them.
public enum NativeCgroupHierarchy: Sendable, Equatable {
    case unified(mountPoint: String)
    /// A v1 hierarchy with its controllers (`cpu`, `cpuacct`, `name=systemd`).
    case v1(mountPoint: String, controllers: [String])

    public var mountPoint: String {
        switch self {
        case .unified(let mountPoint), .v1(let mountPoint, _): return mountPoint
        }
    }
}

/// A mount point of config.json that must exist in the root before CRIU mounts on it (as
/// runc's `prepareCriuRestoreMounts`). A bind mount's source is bound there while CRIU runs,
/// so mount points nested in it can be made.
public struct NativeMountPoint: Sendable, Equatable {
    public var destination: String
    public var bindSource: String?

    public init(destination: String, bindSource: String? = nil) {
        self.destination = destination
        self.bindSource = bindSource
    }
}

/// Everything the native engine decided for one restore: CRIU's options and what the executor
/// prepares around CRIU (root, cgroup, mount points).
public struct NativeRestorePlan: Sendable, Equatable {
    public var criu: CRIURestoreOptions
    /// The container's root (config.json `root.path`, absolute).
    public var root: String
    /// The container's cgroup (config.json `linux.cgroupsPath`), in every hierarchy.
    public var cgroupPath: String
    public var mountPoints: [NativeMountPoint]
    /// config.json's resource limits, written into the new cgroup before CRIU runs.
    public var limits: [NativeCgroupWrite] = []
    /// The device rules runc would give the container (config.json's linux.resources.devices,
    /// then runc's built-in devices): applied to the new cgroup before CRIU runs, since CRIU
    /// does not carry a v2 device filter and soft mode leaves v1 devices.list alone.
    public var deviceRules: [DeviceRule] = []
}

/// Decides a native restore from config.json, the image facts and the cgroup layout. Pure:
/// no I/O, every refusal is a `NativeEngineError.unsupported` naming what cannot be provided.
///
/// The rules (runc's restore, criu_linux.go, unless said otherwise):
/// 1. `--root` is `root.path` (relative: in the bundle).
/// 2. A namespace with a path: net and pid → `--inherit-fd fd[N]:extRootNetNS|extRootPidNS`
///    opened from the path (N from 3); cgroup → refused (CRIU cannot join one; runc refuses
///    too); mount → refused (CRIU cannot join one); any other kind → `--join-ns`.
/// 3. Every external mount key of the images must be satisfied: a `bind` mount of config.json
///    whose destination is the key → its source; `/dev/null` (runc's masked-path files) →
///    /dev/null; a device of `linux.devices` → the same path on the host; `<cgroup mount>/<name>`
///    (runc binds each v1 hierarchy there when the container has no cgroup namespace) → the
///    container's cgroup in the host hierarchy mounted at `…/<name>`. Anything else is refused,
///    naming the key.
/// 4. stdio: every `pipe:[<ino>]` of descriptors.json → `--inherit-fd fd[<i>]:pipe:[<ino>]`;
///    the executor makes the container's output pipe CRIU's stdout and stderr.
/// 5. cgroups: one `--cgroup-root <controller>:<path>` per v1 controller, `:<path>` for the
///    unified hierarchy; `--manage-cgroups=soft` unless asked otherwise. The executor creates
///    the cgroup first (CRIU in soft mode then puts the tasks there) and writes the limits of
///    `linux.resources` into it (`NativeCgroupLimits`: v1 files on v1 and hybrid hosts, as runc).
/// 6. `--restore-detached --evasive-devices`, no `--restore-sibling`: runc needs the sibling
///    because it talks to `criu swrk` as its parent; here the restored root stays CRIU's child
///    and, when CRIU exits, is reparented to the reaper of the pod's PID namespace (the
///    infra), never to crpod — a daemon must not collect zombies of containers it cannot wait
///    for (it never calls waitpid(-1)).
/// 7. Mount points of config.json are made in the root, except cgroup mounts and mounts under
///    a tmpfs mount (CRIU restores a tmpfs with its content).
public enum NativeRestorePlanner {
    public static func plan(
        id: String, spec: OCISpec, bundle: String, options: RestoreOptions, images: NativeRestoreImageFacts,
        hierarchies: [NativeCgroupHierarchy]
    ) throws(NativeEngineError) -> NativeRestorePlan {
        func refuse(_ what: String) -> NativeEngineError { .unsupported(id: id, what: what) }
        guard let rootPath = spec.rootPath, !rootPath.isEmpty else { throw refuse("config.json has no root.path") }
        let root = PathText.isAbsolute(rootPath) ? rootPath : bundle + "/" + rootPath
        guard let cgroupPath = spec.cgroupsPath, PathText.isAbsolute(cgroupPath), !PathText.hasDotDot(cgroupPath) else {
            throw refuse("config.json's linux.cgroupsPath must be an absolute path without .. (got \(spec.cgroupsPath ?? "none"))")
        }
        let mounts = NativeSpecMount.all(in: spec)

        var criu = CRIURestoreOptions(imagesDirectory: options.imagePath, workDirectory: options.workPath,
                                      logging: CRIULogging(file: "restore.log"), pidFile: options.workPath + "/restore.pid")
        criu.root = root
        criu.tcpEstablished = options.tcpEstablished
        criu.fileLocks = options.fileLocks
        criu.evasiveDevices = true
        criu.restoreSibling = false
        criu.lsmProfile = options.lsmProfile
        criu.lsmMountContext = options.lsmMountContext
        criu.timeLimit = options.timeLimit
        criu.leaveStopped = options.sysvReattach != nil || options.leaveStopped
        criu.manageCgroups = options.manageCgroupsMode.map(CRIUCgroupMode.init(rawValue:)) ?? .soft
        criu.cgroupRoots = cgroupRoots(cgroupPath, hierarchies: hierarchies)
        let namespaces = try namespaceOptions(spec.namespaces, refuse: refuse)
        criu.inheritedFiles = namespaces.inherited + stdioFiles(images.descriptors)
        criu.joinedNamespaces = namespaces.joined
        var sources = bindSources(mounts, devices: deviceNodes(in: spec))
        for mount in mounts where mount.isCgroup {
            for hierarchy in hierarchies {
                let name = PathText.components(hierarchy.mountPoint).last.map(String.init) ?? ""
                sources[NativeSpecMount.cleaned(mount.destination + "/" + name)] = hierarchy.mountPoint + cgroupPath
            }
        }
        criu.externalMounts = try externalMounts(images.externalMountKeys, sources: sources, refuse: refuse)
        let unified = !hierarchies.contains { if case .v1 = $0 { return true } else { return false } }
        let limits = try NativeCgroupLimits.writes(id: id, spec.json.value(atPath: ["linux", "resources"]), unified: unified)
        let deviceRules: [DeviceRule]
        do { deviceRules = try DevicePolicy.runcRules(for: spec) } catch { throw refuse("config.json's device rules: \(error)") }
        return NativeRestorePlan(criu: criu, root: root, cgroupPath: cgroupPath, mountPoints: mountPoints(mounts), limits: limits,
                                 deviceRules: deviceRules)
    }

    /// Rule 2.
    static func namespaceOptions(_ namespaces: [OCINamespace], refuse: (String) -> NativeEngineError) throws(NativeEngineError)
        -> (inherited: [CRIUInheritedFile], joined: [CRIUJoinedNamespace])
    {
        var inherited: [CRIUInheritedFile] = []
        var joined: [CRIUJoinedNamespace] = []
        var nextDescriptor = CRIUDriver.inheritableDescriptors.lowerBound
        for namespace in namespaces {
            guard let path = namespace.path else { continue }
            guard let kind = NamespaceKind.table.first(where: { $0.ociType == namespace.type })?.kind else {
                throw refuse("config.json joins a namespace of unknown type \"\(namespace.type)\" at \(path)")
            }
            switch kind {
            case .net, .pid:
                let key = kind == .net ? CRIUExternalNamespace.netKey : CRIUExternalNamespace.pidKey
                inherited.append(CRIUInheritedFile(fd: nextDescriptor, key: key, source: path))
                nextDescriptor += 1
            case .cgroup:
                throw refuse("config.json joins the cgroup namespace at \(path); CRIU cannot restore into an existing cgroup namespace (runc refuses this too)")
            case .mnt:
                throw refuse("config.json joins the mount namespace at \(path); CRIU cannot restore into an existing mount namespace")
            default:
                joined.append(CRIUJoinedNamespace(kind: kind.rawValue, path: path))
            }
        }
        return (inherited, joined)
    }

    /// Rule 3; every unsatisfied key is named at once.
    static func externalMounts(_ keys: [String], sources: [String: String],
                               refuse: (String) -> NativeEngineError) throws(NativeEngineError) -> [CRIUExternalMount] {
        var result: [CRIUExternalMount] = []
        var missing: [String] = []
        for key in Set(keys).sorted() {
            if let source = sources[NativeSpecMount.cleaned(key)] {
                result.append(CRIUExternalMount(key: key, path: source))
            } else {
                missing.append(key)
            }
        }
        guard missing.isEmpty else {
            throw refuse("the checkpoint's mount images need the external mount\(missing.count == 1 ? "" : "s") "
                + missing.map { "\"\($0)\"" }.joined(separator: ", ")
                + ", which config.json does not provide (only a bind mount with that destination, /dev/null or a device node can satisfy a key)")
        }
        return result
    }

    /// Host sources by cleaned key: devices, /dev/null, bind mounts (a later mount wins, as it
    /// covers an earlier one at the same place).
    static func bindSources(_ mounts: [NativeSpecMount], devices: [String]) -> [String: String] {
        var sources: [String: String] = [:]
        for device in devices { sources[NativeSpecMount.cleaned(device)] = device }
        sources[devNullKey] = devNullKey
        for mount in mounts where mount.isBind { sources[NativeSpecMount.cleaned(mount.destination)] = mount.source }
        return sources
    }

    /// runc binds /dev/null over masked files and records them under this key.
    public static let devNullKey = "/dev/null"

    /// Rule 4: fds 0–2 recorded as pipes are re-attached to CRIU's own stdio.
    static func stdioFiles(_ descriptors: [String]) -> [CRIUInheritedFile] {
        descriptors.prefix(3).enumerated().compactMap { index, name in
            name.hasPrefix("pipe:") ? CRIUInheritedFile(fd: Int32(index), key: name, source: nil) : nil
        }
    }

    /// Rule 5.
    static func cgroupRoots(_ cgroupPath: String, hierarchies: [NativeCgroupHierarchy]) -> [CRIUCgroupRoot] {
        hierarchies.flatMap { hierarchy -> [CRIUCgroupRoot] in
            switch hierarchy {
            case .unified: return [.unified(cgroupPath)]
            case .v1(_, let controllers): return controllers.map { CRIUCgroupRoot(controller: $0, path: cgroupPath) }
            }
        }
    }

    /// Rule 7.
    static func mountPoints(_ mounts: [NativeSpecMount]) -> [NativeMountPoint] {
        let tmpfs = mounts.filter { $0.type == "tmpfs" }.map { NativeSpecMount.cleaned($0.destination) }
        return mounts.compactMap { mount in
            let destination = NativeSpecMount.cleaned(mount.destination)
            guard !mount.isCgroup, !tmpfs.contains(where: { $0 != destination && PathText.isUnder(destination, $0) }) else { return nil }
            return NativeMountPoint(destination: destination, bindSource: mount.isBind ? mount.source : nil)
        }
    }

    static func deviceNodes(in spec: OCISpec) -> [String] {
        (spec.json.value(atPath: ["linux", "devices"])?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
    }
}

/// One entry of config.json's `mounts`, as the native restore reads it.
struct NativeSpecMount: Equatable {
    var destination: String
    var type: String
    var source: String
    var options: [String]

    var isBind: Bool { type == "bind" || options.contains("bind") || options.contains("rbind") }
    var isCgroup: Bool { type == "cgroup" || type == "cgroup2" }

    static func all(in spec: OCISpec) -> [NativeSpecMount] {
        (spec.json["mounts"]?.arrayValue ?? []).compactMap { entry in
            guard let destination = entry["destination"]?.stringValue else { return nil }
            return NativeSpecMount(destination: destination, type: entry["type"]?.stringValue ?? "",
                                   source: entry["source"]?.stringValue ?? "",
                                   options: entry["options"]?.stringArrayValue ?? [])
        }
    }

    /// `/a//b/./c/` → `/a/b/c`: keys and destinations compare as paths inside the root.
    static func cleaned(_ path: String) -> String {
        "/" + PathText.components(path).filter { $0 != "." }.joined(separator: "/")
    }
}
