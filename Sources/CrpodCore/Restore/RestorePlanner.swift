/// Decides how a checkpoint archive is restored — into a pod or on its own — from facts
/// gathered by the caller. Pure: no I/O, no clock; the same facts give the same answer.
/// It reports every problem at once, in the order the rules are listed below.
///
/// 1. a pod checkpoint needs `--pod`; 2. a non-pod checkpoint refuses `--pod`;
/// 3. no dependencies; 4. into a pod: CRIU ≥ 31600 and a runtime that can do it;
/// 5. the pod exists and its infra runs; 6–7. namespaces match (no shared cgroup namespace);
/// 8. no checkpoint PID is taken in a shared PID namespace; 9. the name is valid and free;
/// 10. established TCP connections need `--tcp-established` and their address (`RestoreTCPRule`);
/// 11. SysV segments the tasks attached in a joined IPC namespace are attached again only where
/// they are: the same pod, or a whole-pod restore's new pod (`sysvDecision`).
public enum RestorePlanner {
    /// The CRIU version podman requires for restoring into pods (3.16.0).
    public static let minimumPodCRIUVersion = 31600

    public static func plan(
        archive: ArchivePlanFacts, pod: PodPlanFacts?, host: HostPlanFacts, options: RestorePlanOptions
    ) -> Result<RestorePlan, RestoreProblems> {
        let target = targetPod(pod, options: options)
        let layout = namespaceLayout(archive: archive, target: target, options: options)
        let identity = RestoreIdentity(archive: archive, options: options)
        var problems = kindProblems(archive: archive, options: options)
        problems += dependencyProblems(archive: archive)
        problems += toolProblems(host: host, options: options)
        problems += podProblems(target: target, options: options)
        problems += layout.problems
        if let target, archive.podID != nil {
            problems += RestoreNamespaces.pidCollisions(archive: archive, pod: target)
        }
        problems += nameProblems(identity: identity, host: host)
        let tcp = RestoreTCPRule.decide(archive: archive, target: target, options: options)
        problems += tcp.problems
        let sysv = sysvDecision(archive: archive, target: target, layout: layout, options: options)
        problems += sysv.problems
        guard problems.isEmpty else { return .failure(RestoreProblems(problems: problems)) }
        var plan = RestorePlanContents.build(
            archive: archive, pod: target, host: host, layout: layout, identity: identity, carriesPodIPC: options.carriesPodIPC)
        plan.tcpEstablished = tcp.on
        if sysv.reattach {
            plan.reattachSysVShm = true
            plan.notes.append("the SysV shared memory segments the container had attached (id \(archive.sysvSegmentsAttached.sorted().map(String.init).joined(separator: ", "))) "
                + "are attached again at the same addresses in pod \(target?.name ?? "")'s IPC namespace: its tasks are restored stopped, then resumed")
        }
        return .success(plan)
    }

    /// Rule 11. A joined IPC namespace gets no SysV objects from the images, and CRIU maps a
    /// segment only when it created it; crpod attaches them again itself, which is right only
    /// where the segments are the checkpoint's own: its old pod (still alive) or the new pod of
    /// a whole-pod restore (an earlier member re-created them). Anywhere else: refused.
    static func sysvDecision(
        archive: ArchivePlanFacts, target: PodPlanFacts?, layout: NamespaceLayout, options: RestorePlanOptions
    ) -> (reattach: Bool, problems: [RestoreProblem]) {
        guard let target, layout.join[OCINamespaceType.ipc] != nil, !archive.sysvSegmentsAttached.isEmpty, !options.carriesPodIPC else {
            return (false, [])
        }
        if options.reattachesPodSysVShm || archive.podID == target.id { return (true, []) }
        return (false, [.sysvShmFromAnotherPod(segments: archive.sysvSegmentsAttached.sorted(), pod: target.name)])
    }

    /// The pod to restore into: only with `--pod`, and only when the lookup succeeded.
    static func targetPod(_ pod: PodPlanFacts?, options: RestorePlanOptions) -> PodPlanFacts? {
        guard options.podReference != nil, !options.podLookupFailed else { return nil }
        return pod
    }

    static func namespaceLayout(
        archive: ArchivePlanFacts, target: PodPlanFacts?, options: RestorePlanOptions
    ) -> NamespaceLayout {
        guard archive.podID != nil, let target else { return RestoreNamespaces.standalone(archive: archive) }
        return RestoreNamespaces.intoPod(
            archive: archive, pod: target, allowPrivatePID: options.allowPrivatePIDInSharedPod)
    }

    /// Rules 1 and 2: a pod checkpoint goes into a pod, any other one does not.
    static func kindProblems(archive: ArchivePlanFacts, options: RestorePlanOptions) -> [RestoreProblem] {
        switch (archive.podID, options.podReference) {
        case let (podID?, nil): [.podRequired(checkpointPodID: podID)]
        case let (nil, reference?): [.notAPodContainer(podReference: reference)]
        default: []
        }
    }

    /// Rule 3.
    static func dependencyProblems(archive: ArchivePlanFacts) -> [RestoreProblem] {
        guard !archive.dependencies.isEmpty else { return [] }
        return [.hasDependencies(container: archive.containerName, dependencies: archive.dependencies)]
    }

    /// Rule 4: with `--pod`, CRIU and the runtime must be able to restore into a pod.
    static func toolProblems(host: HostPlanFacts, options: RestorePlanOptions) -> [RestoreProblem] {
        guard options.podReference != nil else { return [] }
        var problems: [RestoreProblem] = []
        if (host.criuVersion ?? 0) < minimumPodCRIUVersion {
            problems.append(.criuTooOld(found: host.criuVersion, required: minimumPodCRIUVersion))
        }
        if !host.runtimeSupportsPodRestore {
            problems.append(.runtimeLacksPodRestore(runtimePath: host.runtimePath))
        }
        return problems
    }

    /// Rule 5: the pod exists and its infra process runs (its namespaces are joined by pid).
    static func podProblems(target: PodPlanFacts?, options: RestorePlanOptions) -> [RestoreProblem] {
        guard let reference = options.podReference else { return [] }
        guard let target else { return [.podNotFound(reference: reference)] }
        guard target.infraRunning, target.infraPID != nil else { return [.infraNotRunning(pod: target.name)] }
        return []
    }

    /// Rule 9: the name used (new or kept) must be valid and free; a kept ID must be an ID —
    /// both become paths, cgroup names and the runtime's container id.
    static func nameProblems(identity: RestoreIdentity, host: HostPlanFacts) -> [RestoreProblem] {
        if !identity.renamed, ObjectID(rawValue: identity.id) == nil { return [.invalidID(id: identity.id)] }
        do {
            try NameRule.validate(identity.name, what: "container name")
        } catch let CoreError.invalidName(name, _, reason) {
            return [.invalidName(name: name, reason: reason)]
        } catch {
            return [.invalidName(name: identity.name, reason: String(describing: error))]
        }
        guard host.existingContainerNames.contains(identity.name) else { return [] }
        return [.nameInUse(name: identity.name, renamed: identity.renamed)]
    }
}

/// The name and ID the restored container gets: `--name` brings the caller's fresh ID,
/// otherwise the checkpoint's name and ID are kept.
struct RestoreIdentity: Sendable, Equatable {
    let name: String
    let id: String
    let renamed: Bool

    init(archive: ArchivePlanFacts, options: RestorePlanOptions) {
        if let newName = options.newName {
            name = newName
            id = options.newID
            renamed = true
        } else {
            name = archive.containerName
            id = archive.containerID
            renamed = false
        }
    }
}
