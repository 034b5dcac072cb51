/// Checks a whole-pod archive: the archive as a whole (member names and types, duplicates, the
/// one manifest over everything), `pod.json`, that its members and the `members/` directories
/// match, then each member with `ArchiveValidator` exactly as a single-container archive
/// (its problems prefixed with the member's name). Every problem at once, in a stable order.
public enum PodArchiveValidator {
    public static let invalidDescription = "invalid-pod-description"
    public static let memberMismatch = "pod-member-mismatch"
    public static let invalidNetworkStatus = "invalid-network-status"

    public static func validate(_ pod: PodArchiveFacts) -> [ArchiveProblem] {
        let facts = pod.whole
        var problems = ArchiveValidator.memberProblems(facts.members) + ArchiveValidator.duplicateProblems(facts.members)
        problems += ArchiveValidator.manifestProblems(facts)
        problems += networkStatusProblems(pod)
        guard let description = pod.description else {
            let detail = pod.descriptionError ?? "missing"
            return problems + [.init(code: invalidDescription, member: PodArchiveMember.description,
                                     message: "\(PodArchiveMember.description) cannot be read: \(detail)")]
        }
        problems += descriptionProblems(description, facts)
        for member in description.members {
            guard let view = pod.members[member.name] else { continue }
            problems += ArchiveValidator.validate(view).map { problem in
                var prefixed = problem
                prefixed.member = problem.member.map { member.directory + "/" + $0 }
                prefixed.message = "member \(member.name): \(problem.message)"
                return prefixed
            }
        }
        return problems
    }

    static func descriptionProblems(_ description: PodArchiveDescription, _ facts: ArchiveFacts) -> [ArchiveProblem] {
        var problems: [ArchiveProblem] = []
        let file = PodArchiveMember.description
        if description.version != PodArchiveDescription.currentVersion {
            problems.append(.init(code: invalidDescription, member: file,
                                  message: "\(file) has version \(description.version); this crpod reads version \(PodArchiveDescription.currentVersion)"))
        }
        if description.members.isEmpty {
            problems.append(.init(code: invalidDescription, member: file, message: "\(file) lists no members"))
        }
        var names: Set<String> = []
        for member in description.members {
            if (try? NameRule.validate(member.name, what: "member name")) == nil {
                problems.append(.init(code: invalidDescription, member: file, message: "\(file) lists a member with an invalid name: \(quoted(member.name))"))
            } else if !names.insert(member.name).inserted {
                problems.append(.init(code: invalidDescription, member: file, message: "\(file) lists member \(quoted(member.name)) more than once"))
            }
        }
        let prefix = PodArchiveMember.membersDirectory + "/"
        let directories = Set(facts.members.compactMap { member -> String? in
            let name = CheckpointMember.canonical(member.name)
            guard name.hasPrefix(prefix) else { return nil }
            return name.dropFirst(prefix.count).split(separator: "/").first.map(String.init)
        })
        for extra in directories.subtracting(names).sorted() {
            problems.append(.init(code: memberMismatch, member: prefix + extra,
                                  message: "\(prefix + extra) is not a member \(file) lists"))
        }
        return problems
    }

    static func networkStatusProblems(_ pod: PodArchiveFacts) -> [ArchiveProblem] {
        let file = CheckpointMember.networkStatus
        if let error = pod.networkStatusError {
            return [.init(code: invalidNetworkStatus, member: file, message: "\(file) cannot be read: \(error)")]
        }
        return (pod.networkStatus?.problems() ?? []).map { .init(code: invalidNetworkStatus, member: file, message: "\(file): \($0)") }
    }
}
