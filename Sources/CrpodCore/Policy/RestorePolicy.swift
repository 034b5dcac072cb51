/// What a restore may bring onto this host, for archives that come from elsewhere (the daemon's
/// API and spool). Checked on the final spec, before any process starts.
public struct RestorePolicy: Sendable, Codable, Equatable {
    /// Directory prefixes a base rootfs may be under (empty: any).
    public var allowedRootfs: [String]
    /// Directory prefixes a bind-mount source on this host may be under. Stand-ins crpod makes
    /// under the container's own directory are always allowed.
    public var allowedBindSources: [String]
    /// Capabilities beyond runc's default set that specs may keep.
    public var allowedExtraCapabilities: [String]
    /// Devices, allow-all device rules, device-injection annotations and extra capabilities.
    public var allowPrivileged: Bool
    /// With no `allowedRootfs`, refuse every base rootfs instead of accepting any (the
    /// daemon: an archive must not pick a host directory such as `/` as its lower layer).
    public var rootfsMustBeListed = false

    public init(allowedRootfs: [String] = [], allowedBindSources: [String] = [], allowedExtraCapabilities: [String] = [], allowPrivileged: Bool = false) {
        self.allowedRootfs = allowedRootfs
        self.allowedBindSources = allowedBindSources
        self.allowedExtraCapabilities = allowedExtraCapabilities
        self.allowPrivileged = allowPrivileged
    }

    /// runc's (and podman's) default capability set; anything else is "added".
    public static let defaultCapabilities: Set<String> = [
        "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_MKNOD",
        "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
    ]

    /// Annotation keys (or prefixes) by which runtimes and hooks inject host devices.
    public static let deviceInjectionKeys = ["cdi.k8s.io/", "io.kubernetes.cri-o.Devices", "io.podman.annotations.device", "run.oci.devices"]

    /// Every violation of the policy in `spec` (empty: allowed). `containerDirectory` holds
    /// crpod's own stand-ins; `rootfs` is the base rootfs the restore will use; `podShmDirectory`
    /// is the target pod's /dev/shm, which crpod itself binds at /dev/shm (and only there).
    public func violations(spec: OCISpec, rootfs: String, containerDirectory: String, podShmDirectory: String? = nil) -> [String] {
        var found = rootfsViolation(rootfs).map { [$0] } ?? []
        for (destination, source) in Self.binds(spec) where !Self.isUnder(source, anyOf: allowedBindSources + [containerDirectory]) {
            if podShmDirectory == source && PathText.components(destination) == ["dev", "shm"] { continue }
            found.append("bind mount of host path \(source) is outside the allowed bind-mount sources" + (allowedBindSources.isEmpty ? " (none allowed)" : " (\(allowedBindSources.joined(separator: ", ")))"))
        }
        if let hooks = spec.json["hooks"]?.objectValue, !hooks.isEmpty {
            found.append("the spec has OCI hooks (\(hooks.keys.sorted().joined(separator: ", "))), which run on the host (never allowed)")
        }
        for namespace in spec.foreignNamespaceJoins {
            found.append("the spec joins the \(namespace.type) namespace at \(namespace.path ?? "") (never allowed)")
        }
        guard !allowPrivileged else { return found }
        let extra = Self.capabilities(spec).subtracting(Self.defaultCapabilities).subtracting(allowedExtraCapabilities).sorted()
        if !extra.isEmpty { found.append("the spec adds capabilities \(extra.joined(separator: ", ")) (not allowed)") }
        for device in spec.json.value(atPath: ["linux", "devices"])?.arrayValue ?? [] {
            found.append("the spec creates device \(device["path"]?.stringValue ?? "?") (privileged specs are not allowed)")
        }
        if Self.allowsAllDevices(spec) { found.append("the spec allows access to all devices (privileged specs are not allowed)") }
        for type in Self.wildcardDeviceTypes(spec) {
            found.append("the spec allows access to every \(type == "b" ? "block" : "character") device (privileged specs are not allowed)")
        }
        for key in spec.annotations.keys.sorted() where Self.deviceInjectionKeys.contains(where: { key.hasPrefix($0) }) {
            found.append("annotation \(key) injects devices (not allowed)")
        }
        return found
    }

    /// The policy for a base rootfs that is an image of crpod's own store: the store is
    /// root's and its trees were verified on import, so the rootfs directory rule does not
    /// apply (the other rules do).
    public func forStoreImage() -> RestorePolicy {
        var policy = self
        policy.allowedRootfs = []
        policy.rootfsMustBeListed = false
        return policy
    }

    /// The base rootfs rule alone: nil when `rootfs` may be used.
    public func rootfsViolation(_ rootfs: String) -> String? {
        if allowedRootfs.isEmpty && rootfsMustBeListed {
            return "base rootfs \(rootfs) is not allowed: no allow_rootfs directories are configured"
        }
        if !allowedRootfs.isEmpty && !Self.isUnder(rootfs, anyOf: allowedRootfs) {
            return "rootfs \(rootfs) is outside the allowed rootfs directories (\(allowedRootfs.joined(separator: ", ")))"
        }
        return nil
    }

    /// What a new container the daemon starts may not have: a base rootfs outside the allowed
    /// directories and, unless privileged specs are allowed, a syscall filter other than
    /// crpod's default (no filter, or a profile that may allow more).
    public func runViolations(rootfs: String, seccomp: SeccompChoice) -> [String] {
        var found = rootfsViolation(rootfs).map { [$0] } ?? []
        if !allowPrivileged && seccomp != .defaultProfile {
            let what = seccomp == .unconfined ? "no seccomp filter (unconfined)" : "a custom seccomp profile"
            found.append("the request asks for \(what); only the default profile is allowed without allow_privileged")
        }
        return found
    }

    /// `path` equals or lies below one of `prefixes` (compared by whole components, after
    /// refusing `..`).
    static func isUnder(_ path: String, anyOf prefixes: [String]) -> Bool {
        guard PathText.isAbsolute(path), !PathText.hasDotDot(path) else { return false }
        return prefixes.contains { PathText.isUnder(path, $0) }
    }

    /// Each bind mount of the spec as (destination, source).
    static func binds(_ spec: OCISpec) -> [(destination: String, source: String)] {
        (spec.json["mounts"]?.arrayValue ?? []).compactMap { mount in
            guard OCISpec.isBindMount(mount) else { return nil }
            return (mount["destination"]?.stringValue ?? "", mount["source"]?.stringValue ?? "")
        }
    }

    static func capabilities(_ spec: OCISpec) -> Set<String> {
        let sets = ["bounding", "effective", "permitted", "inheritable", "ambient"]
        return Set(sets.flatMap { spec.json.value(atPath: ["process", "capabilities", $0])?.stringArrayValue ?? [] })
    }

    /// "b" / "c" rules that allow a whole device class (major missing or null).
    static func wildcardDeviceTypes(_ spec: OCISpec) -> [String] {
        let rules = spec.json.value(atPath: ["linux", "resources", "devices"])?.arrayValue ?? []
        let types = rules.compactMap { rule -> String? in
            guard rule["allow"]?.boolValue == true, let type = rule["type"]?.stringValue, type == "b" || type == "c" else { return nil }
            return (rule["major"] ?? .null).isNull ? type : nil
        }
        return Array(Set(types)).sorted()
    }

    static func allowsAllDevices(_ spec: OCISpec) -> Bool {
        (spec.json.value(atPath: ["linux", "resources", "devices"])?.arrayValue ?? []).contains { rule in
            // runc reads a missing or null major/minor as a wildcard and a missing or empty type as "a".
            let type = rule["type"]?.stringValue ?? ""
            return rule["allow"]?.boolValue == true && (type.isEmpty || type == "a")
                && (rule["major"] ?? .null).isNull && (rule["minor"] ?? .null).isNull
        }
    }
}
