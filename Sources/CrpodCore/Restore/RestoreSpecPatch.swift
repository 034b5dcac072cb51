extension OCINamespaceType {
    /// The kinds a pod shares and a restore may join by path.
    public static let podShareable = NamespaceKind.podShareable.map(\.ociType)

    /// "ipc, network, uts, pid and cgroup": the types a restore may join, for messages.
    public static var joinableByPathText: String {
        let types = ShareList.allowed.map(ShareList.ociType(forShareName:)).filter(isJoinableByPath)
        return types.dropLast().joined(separator: ", ") + " and " + (types.last ?? "")
    }

    /// Whether an imported spec may join a namespace of this OCI `type` by path.
    static func isJoinableByPath(_ type: String) -> Bool {
        NamespaceKind.table.contains { $0.ociType == type && $0.joinableByPath }
    }
}

extension OCISpec {
    /// Namespaces the spec joins by path that are not a pod's kind (mount, user, time): a
    /// restore must never join those — they would be the host's or another container's.
    public var foreignNamespaceJoins: [OCINamespace] {
        namespaces.filter { $0.path != nil && !OCINamespaceType.isJoinableByPath($0.type) }
    }

    /// The archive's spec repointed by the plan: root, pod namespaces (joined, private or
    /// dropped), cgroup, annotations, labels; OCI hooks removed (they run on the host, as root,
    /// and an archive never brings its own). Everything else is kept as it was.
    public func restored(by plan: RestorePlan, rootPath: String) -> OCISpec {
        var spec = self
        spec.rootPath = rootPath
        spec.json.setValue(nil, atPath: ["hooks"])
        for type in OCINamespaceType.podShareable {
            if let path = plan.joinNamespaces[type] {
                spec.joinNamespace(type: type, path: path)
            } else if plan.privateNamespaces.contains(type) {
                spec.makeNamespacePrivate(type: type)
            } else {
                spec.removeNamespace(type: type)
            }
        }
        spec.cgroupsPath = plan.cgroupsPath
        spec.annotations = plan.annotations
        if plan.joinNamespaces[OCINamespaceType.uts] != nil { spec.hostname = nil }
        if let context = plan.lsmMountContext { spec.mountLabel = context }
        if let profile = plan.lsmProfile, profile.hasPrefix("selinux:") { spec.processLabel = String(profile.dropFirst(8)) }
        return spec
    }
}
