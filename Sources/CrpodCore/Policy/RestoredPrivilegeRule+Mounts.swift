/// The mount part of the image rule. What runc builds from a spec, and so what an untampered
/// image of it holds (seen in crpod's and podman's images):
/// - the namespace's root mount (replaced by CRIU with the container's rootfs);
/// - each spec mount at its destination with its type (`bind` mounts are external: runc hands
///   CRIU the host source for the `ext_key`, which is the destination), read-only if the
///   spec says `ro`; a `cgroup` mount is a tmpfs or cgroup2 at the destination with cgroup
///   hierarchies below it;
/// - each read-only path as a read-only bind of the filesystem around it;
/// - each masked path as a read-only tmpfs (a directory) or an external bind of /dev/null.
/// Anything else is refused: a new filesystem (a block device, sysfs, proc), a host bind
/// under a key the spec does not have, a second mount stacked on a mount point, a peer group
/// slave of a mount outside the image. Paths that do not exist on this host need no mount.
extension RestoredPrivilegeRule {
    static let devNullKey = "/dev/null"

    /// The spec's masked and read-only paths, as the rule compares them: the caller tells
    /// which of them do not exist (`ImageRuleHost.absentPaths`).
    public static func protectedPaths(_ spec: OCISpec) -> [String] {
        let view = SpecMountView(spec)
        return view.maskedPaths + view.readonlyPaths
    }

    /// More mounts than a container has (runc makes a few dozen) are refused unread: the
    /// checks compare mounts with each other.
    static let maxMounts = 4096

    static func mountProblems(_ namespace: RestoredMountNamespace, spec: OCISpec, host: ImageRuleHost) -> [String] {
        let view = SpecMountView(spec)
        let mounts = namespace.mounts
        guard mounts.count <= maxMounts, view.specMounts.count <= maxMounts else {
            return ["\(namespace.image): \(mounts.count) mounts in the image, \(view.specMounts.count) in the spec: over the \(maxMounts) the rule checks"]
        }
        let ids = Set(mounts.map(\.mountID))
        let sharedIDs = Set(mounts.map(\.sharedID).filter { $0 != 0 })
        let image = namespace.image
        var found: [String] = []
        var seen = Set<String>()
        var rootSeen = false
        for mount in mounts {
            // The namespace's root, replaced by the container's rootfs; only one can be that.
            if same(mount.mountpoint, "/") && !ids.contains(mount.parentMountID) && !rootSeen {
                rootSeen = true
                continue
            }
            if !seen.insert(mount.mountpoint).inserted {
                found.append("\(image): a second mount is stacked on \(mount.mountpoint) (not in the spec)")
            }
            if let problem = view.problem(with: mount, in: mounts) { found.append("\(image): \(problem)") }
            if mount.masterID != 0 && !sharedIDs.contains(mount.masterID) {
                found.append("\(image): mount at \(mount.mountpoint) is a slave of peer group \(mount.masterID) outside the image (allowed: none)")
            }
        }
        found += coverageProblems(mounts, view: view, host: host).map { "\(image): \($0)" }
        return found
    }

    /// Every existing read-only path lies on a read-only mount; every existing masked path is masked.
    static func coverageProblems(_ mounts: [CRIUMountEntry], view: SpecMountView, host: ImageRuleHost) -> [String] {
        var found: [String] = []
        for path in view.readonlyPaths where !host.absentPaths.contains(path) {
            // A mount exactly at the path was judged on its own (SpecMountView.problem).
            guard let mount = visibleMount(at: path, in: mounts), !same(mount.mountpoint, path) else { continue }
            if !mount.isReadOnly {
                found.append("\(path) is on the read-write \(mount.typeName) mount at \(mount.mountpoint) but the spec makes it read-only (allowed: read-only)")
            }
        }
        for path in view.maskedPaths where !host.absentPaths.contains(path) {
            let mask = visibleMount(at: path, in: mounts)
            if !(mask.map { same($0.mountpoint, path) && view.isMask($0) } ?? false) {
                found.append("\(path) is not masked but the spec masks it (allowed: masked by a read-only tmpfs or /dev/null)")
            }
        }
        return found
    }

    /// The mount whose mount point is the longest prefix of `path` (the last one when stacked).
    static func visibleMount(at path: String, in mounts: [CRIUMountEntry]) -> CRIUMountEntry? {
        mounts.filter { PathText.isUnder(path, $0.mountpoint) }.max { $0.mountpoint.count < $1.mountpoint.count }
    }
}

/// Paths compared byte for byte: Swift's `==` on String treats canonically equivalent Unicode
/// as equal, the kernel does not.
func same(_ left: String, _ right: String) -> Bool {
    left.utf8.elementsEqual(right.utf8)
}

/// The spec's mounts, read-only and masked paths, as the mount rule matches them.
struct SpecMountView {
    struct Mount {
        var destination: String
        var type: String
        /// MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC as the spec's options ask.
        var flags: UInt32
        var isBind: Bool

        var readOnly: Bool { flags & CRIUMountEntry.readOnlyFlag != 0 }
    }

    /// Mount options that restrict, and their per-mount flags (`ro` is checked on its own).
    static let restrictingOptions: [(name: String, flag: UInt32)] = [("nosuid", 0x2), ("nodev", 0x4), ("noexec", 0x8)]

    let specMounts: [Mount]
    let readonlyPaths: [String]
    let maskedPaths: [String]

    init(_ spec: OCISpec) {
        specMounts = (spec.json["mounts"]?.arrayValue ?? []).compactMap { mount in
            guard let destination = mount["destination"]?.stringValue else { return nil }
            let options = mount["options"]?.stringArrayValue ?? []
            let type = mount["type"]?.stringValue ?? ""
            let flags = Self.restrictingOptions.filter { options.contains($0.name) }.reduce(options.contains("ro") ? CRIUMountEntry.readOnlyFlag : 0) { $0 | $1.flag }
            return Mount(destination: Self.clean(destination), type: type, flags: flags,
                         isBind: OCISpec.isBindMount(type: type, options: options))
        }
        readonlyPaths = (spec.json.value(atPath: ["linux", "readonlyPaths"])?.stringArrayValue ?? []).map(Self.clean)
        maskedPaths = (spec.json.value(atPath: ["linux", "maskedPaths"])?.stringArrayValue ?? []).map(Self.clean)
    }

    /// Absolute, no empty, `.` or `..` component, no trailing slash: how the kernel reports a
    /// mount point, so byte comparison with the spec's (cleaned) paths is exact.
    static func isCanonical(_ path: String) -> Bool {
        let parts = PathText.components(path, omittingEmpty: false)
        guard PathText.isAbsolute(path) else { return false }
        if path.utf8.count == 1 { return true }
        return parts.dropFirst().allSatisfy { !$0.isEmpty && !$0.utf8.elementsEqual(".".utf8) && !$0.utf8.elementsEqual("..".utf8) }
    }

    /// `/a//b/` → `/a/b`, as the kernel reports mount points.
    static func clean(_ path: String) -> String {
        "/" + PathText.components(path).joined(separator: "/")
    }

    /// Why `mount` is not something runc builds from the spec, or nil. `mounts` is its namespace.
    func problem(with mount: CRIUMountEntry, in mounts: [CRIUMountEntry]) -> String? {
        let point = mount.mountpoint
        for path in [point] + (mount.extKey.map { [$0] } ?? []) where !Self.isCanonical(path) {
            return "mount at \(point) names \(path), which is not a plain absolute path (allowed: the spec's mount points)"
        }
        if mount.isExternal { return externalProblem(mount) }
        if let specMount = specMounts.last(where: { same($0.destination, point) }), !specMount.isBind {
            return typedProblem(mount, specMount)
        }
        if let cgroup = specMounts.last(where: { $0.type == "cgroup" && PathText.isUnder(point, $0.destination) && !same(point, $0.destination) }) {
            guard ["cgroup", "cgroup2"].contains(mount.typeName) else {
                return "mount at \(point) is \(mount.typeName) under the spec's cgroup mount (allowed: cgroup)"
            }
            return flagProblem(mount, cgroup)
        }
        if readonlyPaths.contains(where: { same($0, point) }) {
            if let problem = selfBindProblem(mount, in: mounts) { return problem }
            return mount.isReadOnly ? nil : "mount at \(point) is read-write but the spec makes it read-only (allowed: read-only)"
        }
        if maskedPaths.contains(where: { same($0, point) }) {
            return isMask(mount) ? nil : "mount at \(point) (\(mount.typeName)) does not mask it (allowed: masked by a read-only tmpfs or /dev/null)"
        }
        return "mount at \(point) (\(mount.typeName), source \(mount.source), root \(mount.root)) is not in the spec (allowed: the spec's mounts)"
    }

    /// runc makes a read-only path read-only by binding it onto itself: the mount must be of the
    /// filesystem around it (same device and type), not a new filesystem that happens to be read-only.
    func selfBindProblem(_ mount: CRIUMountEntry, in mounts: [CRIUMountEntry]) -> String? {
        let point = mount.mountpoint
        let around = mounts.filter { !same($0.mountpoint, point) && PathText.isUnder(point, $0.mountpoint) }.max { $0.mountpoint.count < $1.mountpoint.count }
        guard let around, around.rootDevice == mount.rootDevice, around.typeName == mount.typeName else {
            return "mount at \(point) (\(mount.typeName), source \(mount.source)) is not a bind of the filesystem around it (allowed: a read-only bind of \(around?.typeName ?? "its parent"))"
        }
        return nil
    }

    /// A spec mount of a filesystem: the same type (a cgroup mount may be a tmpfs or cgroup2
    /// holding the hierarchies), read-only when the spec says so.
    func typedProblem(_ mount: CRIUMountEntry, _ specMount: Mount) -> String? {
        let point = mount.mountpoint
        let types = specMount.type == "cgroup" ? ["tmpfs", "cgroup", "cgroup2"] : [specMount.type]
        guard types.contains(mount.typeName), mount.root == "/" else {
            return "mount at \(point) is \(mount.typeName) of \(mount.root) but the spec mounts \(specMount.type) there (allowed: \(specMount.type))"
        }
        // runc leaves the tmpfs holding cgroup v1 hierarchies writable (seen in real images).
        return flagProblem(mount, specMount, checkReadOnly: !(specMount.type == "cgroup" && mount.typeName == "tmpfs"))
    }

    /// The image mount must carry the spec mount's `ro`, `nosuid`, `nodev` and `noexec`.
    func flagProblem(_ mount: CRIUMountEntry, _ specMount: Mount, checkReadOnly: Bool = true) -> String? {
        let point = mount.mountpoint
        if checkReadOnly && specMount.readOnly && !mount.isReadOnly {
            return "mount at \(point) is read-write but the spec's \(specMount.destination) is read-only (allowed: read-only)"
        }
        let missing = Self.restrictingOptions.filter { specMount.flags & $0.flag != 0 && mount.flags & $0.flag == 0 }.map(\.name)
        guard !missing.isEmpty else { return nil }
        return "mount at \(point) lacks \(missing.joined(separator: ", ")) (allowed: with the spec's \(missing.joined(separator: ", ")))"
    }

    /// An external bind: runc's restore maps a spec bind's destination to its host source,
    /// /dev/null for masked files, and cgroup hierarchies under a cgroup mount.
    func externalProblem(_ mount: CRIUMountEntry) -> String? {
        let point = mount.mountpoint
        let key = mount.extKey ?? point
        if same(key, RestoredPrivilegeRule.devNullKey) {
            return maskedPaths.contains(where: { same($0, point) }) ? nil : "mount at \(point) binds /dev/null where the spec masks nothing (allowed: the spec's masked paths)"
        }
        if let bind = specMounts.last(where: { $0.isBind && same($0.destination, key) }) {
            guard same(key, point) else {
                return "mount at \(point) binds the host source of \(key) elsewhere (allowed: at \(key))"
            }
            return flagProblem(mount, bind)
        }
        if let cgroup = specMounts.last(where: { $0.type == "cgroup" && PathText.isUnder(key, $0.destination) }), same(key, point) {
            return flagProblem(mount, cgroup)
        }
        return "mount at \(point) is an external bind mount (key \(key)) of a host path the spec does not bind (allowed: the spec's bind mounts)"
    }

    /// runc's masks: a read-only tmpfs over a directory, /dev/null bound over a file.
    func isMask(_ mount: CRIUMountEntry) -> Bool {
        (mount.isExternal && mount.extKey.map { same($0, RestoredPrivilegeRule.devNullKey) } == true) || (mount.typeName == "tmpfs" && mount.isReadOnly && !mount.isExternal)
    }
}
