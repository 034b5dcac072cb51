// The manifest, dependency and pod checks of `ArchiveValidator`.

extension ArchiveValidator {
    // MARK: - Manifest (crpod archives only)

    static func manifestProblems(_ facts: ArchiveFacts) -> [ArchiveProblem] {
        let name = CheckpointMember.manifest
        guard facts.member(named: name) != nil || facts.manifest != nil || facts.manifestError != nil else {
            return [.init(code: ArchiveProblem.Code.missingManifest, member: name,
                          message: "the archive was written by crpod but has no \(name)")]
        }
        var problems: [ArchiveProblem] = []
        if let last = facts.members.last, CheckpointMember.canonical(last.name) != name {
            problems.append(.init(code: ArchiveProblem.Code.manifestNotLast, member: name,
                                  message: "\(name) is not the last member (the last is \(quoted(last.name)))"))
        }
        if facts.manifest == nil, let error = facts.manifestError {
            problems.append(.init(code: ArchiveProblem.Code.invalidManifest, member: name,
                                  message: "\(name) cannot be read: \(error)"))
        }
        guard let manifest = facts.manifest else { return problems }
        guard manifest.version == ArchiveManifestModel.currentVersion else {
            problems.append(.init(code: ArchiveProblem.Code.unsupportedManifestVersion, member: name,
                                  message: "\(name) has version \(manifest.version); this crpod reads version "
                                      + "\(ArchiveManifestModel.currentVersion)"))
            return problems
        }
        return problems + manifestEntryProblems(manifest, facts) + unlistedProblems(manifest, facts)
    }

    private static func manifestEntryProblems(_ manifest: ArchiveManifestModel, _ facts: ArchiveFacts) -> [ArchiveProblem] {
        var problems: [ArchiveProblem] = []
        var seen: Set<String> = []
        for entry in manifest.members {
            let name = CheckpointMember.canonical(entry.name)
            guard seen.insert(name).inserted else {
                problems.append(.init(code: ArchiveProblem.Code.manifestDuplicateEntry, member: name,
                                      message: "\(CheckpointMember.manifest) lists \(quoted(name)) more than once"))
                continue
            }
            guard let member = facts.member(named: name) else {
                problems.append(.init(code: ArchiveProblem.Code.manifestMemberMissing, member: name,
                                      message: "member \(quoted(name)) is listed in the manifest but missing from the archive"))
                continue
            }
            problems += entryMismatches(entry, member, name: name)
        }
        return problems
    }

    private static func entryMismatches(_ entry: ArchiveManifestModel.Entry, _ member: ArchiveMember, name: String) -> [ArchiveProblem] {
        var problems: [ArchiveProblem] = []
        if member.size != entry.size {
            problems.append(.init(code: ArchiveProblem.Code.manifestSizeMismatch, member: name,
                                  message: "member \(quoted(name)) is \(member.size) bytes; the manifest says \(entry.size)"))
        }
        if let digest = member.sha256, digest.lowercased() != entry.sha256.lowercased() {
            problems.append(.init(code: ArchiveProblem.Code.manifestDigestMismatch, member: name,
                                  message: "member \(quoted(name)) has SHA-256 \(digest); the manifest says \(entry.sha256)"))
        }
        return problems
    }

    /// Regular files the manifest does not list (the manifest itself excepted).
    private static func unlistedProblems(_ manifest: ArchiveManifestModel, _ facts: ArchiveFacts) -> [ArchiveProblem] {
        let listed = Set(manifest.members.map { CheckpointMember.canonical($0.name) })
        var reported: Set<String> = []
        return facts.members.compactMap { member in
            let name = CheckpointMember.canonical(member.name)
            guard member.type == .file, name != CheckpointMember.manifest, !listed.contains(name),
                  reported.insert(name).inserted
            else { return nil }
            return .init(code: ArchiveProblem.Code.unlistedMember, member: name,
                         message: "member \(quoted(name)) is not listed in \(CheckpointMember.manifest)")
        }
    }

    // MARK: - Dependencies and pod facts

    /// podman refuses to checkpoint a container that depends on others, its pod's infra
    /// excepted; an archive claiming otherwise cannot be restored faithfully either.
    static func dependencyProblems(_ config: CheckpointConfig) -> [ArchiveProblem] {
        let member = CheckpointMember.config
        var problems: [ArchiveProblem] = []
        let outside = config.dependenciesOutsidePod
        if !outside.isEmpty {
            problems.append(.init(code: ArchiveProblem.Code.hasDependencies, member: member,
                                  message: "\(member): the container has dependencies: \(outside.joined(separator: ", "))"))
        }
        let owners = config.sharedNamespaceOwners
        if config.pod == nil, !owners.isEmpty {
            let shares = ShareList.allowed.filter { owners[$0] != nil }
            let ids = Array(Set(owners.values)).sorted()
            problems.append(.init(code: ArchiveProblem.Code.hasDependencies, member: member,
                                  message: "\(member): the container has dependencies: it shares "
                                      + "\(shares.joined(separator: ", ")) with \(ids.joined(separator: ", ")) outside a pod"))
        }
        return problems
    }

    static func podProblems(_ config: CheckpointConfig) -> [ArchiveProblem] {
        var reasons: [String] = []
        let owners = config.sharedNamespaceOwners
        if let pod = config.pod {
            if owners.isEmpty {
                reasons.append("pod \(pod) is set but no namespace is shared with an infra container")
            } else if Set(owners.values).count > 1 {
                reasons.append("pod \(pod) is set but namespaces are shared with more than one container")
            }
        }
        if let section = config.crpod {
            reasons += crpodPodReasons(section, pod: config.pod, shares: Set(owners.keys))
        }
        let member = CheckpointMember.config
        return reasons.map {
            .init(code: ArchiveProblem.Code.podInconsistent, member: member, message: "\(member): \($0)")
        }
    }

    private static func crpodPodReasons(_ section: CrpodSection, pod: String?, shares: Set<String>) -> [String] {
        var reasons: [String] = []
        if section.podID != pod {
            reasons.append("the crpod section names pod \(section.podID ?? "none") but pod is \(pod ?? "unset")")
        }
        if pod == nil, section.podID == nil, !section.podShares.isEmpty {
            reasons.append("the crpod section lists pod shares but the container is in no pod")
        }
        if pod != nil, Set(section.podShares) != shares {
            let claimed = section.podShares.sorted().joined(separator: ",")
            let actual = ShareList.allowed.filter(shares.contains).joined(separator: ",")
            reasons.append("the crpod section says the pod shared [\(claimed)] but the container joined [\(actual)]")
        }
        return reasons
    }
}

extension CheckpointConfig {
    /// `dependencies` without the containers whose namespaces this one joined (a pod's
    /// infra), which podman allows when checkpointing a pod member.
    public var dependenciesOutsidePod: [String] {
        let owners = pod == nil ? [] : Set(sharedNamespaceOwners.values)
        return dependencies.filter { !owners.contains($0) }
    }
}
