/// Builds the plan once every rule has passed: paths, labels, annotations, the rewritten
/// create command, and the notes that explain each decision.
enum RestorePlanContents {
    static let selinuxDisabledNote = "SELinux is disabled: no labels are passed to the runtime"

    static func build(
        archive: ArchivePlanFacts, pod: PodPlanFacts?, host: HostPlanFacts,
        layout: NamespaceLayout, identity: RestoreIdentity, carriesPodIPC: Bool = false
    ) -> RestorePlan {
        let labels = selinuxLabels(pod: pod, host: host)
        let hostname = targetHostname(archive: archive, pod: pod, layout: layout)
        let ipc = carriesPodIPC ? (drop: false, notes: []) : ipcImages(archive: archive, pod: pod, layout: layout)
        var notes = layout.notes + labels.notes + hostname.notes + ipc.notes
        if identity.renamed {
            notes.append("restored as \(identity.name) with the new ID \(identity.id) "
                + "(checkpointed as \(archive.containerName), ID \(archive.containerID))")
        }
        return RestorePlan(
            containerName: identity.name,
            containerID: identity.id,
            podID: pod?.id,
            podName: pod?.name,
            joinNamespaces: layout.join,
            privateNamespaces: layout.privateTypes,
            cgroupsPath: cgroupsPath(parent: pod?.cgroupPath ?? host.cgroupParent, id: identity.id),
            lsmProfile: labels.profile,
            lsmMountContext: labels.mountContext,
            annotations: annotations(archive.annotations, pod: pod, name: identity.name),
            createCommand: createCommand(
                archive.createCommand, oldPodID: archive.podID, newPodID: pod?.id,
                newName: identity.renamed ? identity.name : nil),
            dropIPCObjectImages: ipc.drop,
            keepTargetHostname: hostname.keep,
            notes: notes)
    }

    /// `<parent>/<id>`, without a doubled slash.
    static func cgroupsPath(parent: String, id: String) -> String {
        var trimmed = Substring(parent)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return trimmed + "/" + id
    }

    /// The infra's labels, so the restored process and its mounts match the pod's.
    static func selinuxLabels(
        pod: PodPlanFacts?, host: HostPlanFacts
    ) -> (profile: String?, mountContext: String?, notes: [String]) {
        guard host.selinuxEnabled else { return (nil, nil, [selinuxDisabledNote]) }
        guard let pod else {
            return (nil, nil, ["SELinux is enabled: without a pod, the checkpoint's own labels apply"])
        }
        var notes: [String] = []
        if pod.processLabel == nil {
            notes.append("pod \(pod.name)'s infra process has no SELinux label: no process label is passed")
        }
        if pod.mountLabel == nil {
            notes.append("pod \(pod.name) has no SELinux mount label: no mount context is passed")
        }
        return (pod.processLabel.map { "selinux:\($0)" }, pod.mountLabel, notes)
    }

    /// CRIU writes the checkpoint's hostname into a joined UTS namespace; the pod's is kept.
    static func targetHostname(
        archive: ArchivePlanFacts, pod: PodPlanFacts?, layout: NamespaceLayout
    ) -> (keep: String?, notes: [String]) {
        guard let pod, layout.join[OCINamespaceType.uts] != nil else { return (nil, []) }
        let old = archive.hostname.map(quoted) ?? "unknown"
        guard let hostname = pod.hostname else {
            return (nil, ["pod \(pod.name)'s hostname is unknown: CRIU may replace it with "
                + "the checkpoint's (\(old))"])
        }
        return (hostname, ["CRIU writes the checkpoint's hostname (\(old)) into pod \(pod.name)'s "
            + "UTS namespace; the pod's hostname \(quoted(hostname)) must be kept"])
    }

    /// A joined IPC namespace already holds the pod's SysV objects; CRIU's images of the
    /// old pod's would collide with them ("Failed to create shm set: File exists").
    static func ipcImages(
        archive: ArchivePlanFacts, pod: PodPlanFacts?, layout: NamespaceLayout
    ) -> (drop: Bool, notes: [String]) {
        guard let pod, layout.join[OCINamespaceType.ipc] != nil else { return (false, []) }
        guard archive.hasIPCObjectImages else { return (true, []) }
        return (true, ["the checkpoint's SysV IPC objects (ipcns-shm/msg/sem images) are not restored: "
            + "they are the old pod's whole IPC namespace, and pod \(pod.name)'s already has its own"])
    }

    /// The archive's annotations, pointing at the new pod (or at none) and the new name.
    static func annotations(_ base: [String: String], pod: PodPlanFacts?, name: String) -> [String: String] {
        var result = base
        result[RestoreAnnotationKey.containerName] = name
        result[RestoreAnnotationKey.sandboxID] = pod?.id
        result[RestoreAnnotationKey.podName] = pod?.name
        return result
    }

    /// The create command with the old pod replaced by the new one (`--pod X`, `--pod=X`,
    /// and any entry equal to the old pod ID) and, when renamed, the `--name` value.
    static func createCommand(
        _ command: [String], oldPodID: String?, newPodID: String?, newName: String?
    ) -> [String] {
        command.indices.map { index in
            let previous = index > command.startIndex ? command[index - 1] : nil
            var entry = command[index]
            if let newName {
                entry = rewrite(entry, previous: previous, flag: "--name", to: newName)
            }
            if let newPodID {
                entry = entry == oldPodID ? newPodID : rewrite(entry, previous: previous, flag: "--pod", to: newPodID)
            }
            return entry
        }
    }

    private static func rewrite(_ entry: String, previous: String?, flag: String, to value: String) -> String {
        if previous == flag { return value }
        if entry.hasPrefix(flag + "=") { return flag + "=" + value }
        return entry
    }
}
