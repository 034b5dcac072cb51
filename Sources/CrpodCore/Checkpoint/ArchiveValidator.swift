/// One thing wrong with a checkpoint archive. Problems are data: the validator lists all
/// of them and the caller decides. `code` is a stable identifier; `message` names the member.
public struct ArchiveProblem: Sendable, Codable, Equatable, CustomStringConvertible {
    public var code: String
    public var member: String?
    public var message: String

    public init(code: String, member: String? = nil, message: String) {
        self.code = code
        self.member = member
        self.message = message
    }

    public var description: String { message }

    /// The stable codes.
    public enum Code {
        public static let missingMember = "missing-member"
        public static let invalidConfig = "invalid-config"
        public static let invalidSpec = "invalid-spec"
        public static let invalidCrpodSection = "invalid-crpod-section"
        public static let unsupportedCrpodVersion = "unsupported-crpod-version"
        public static let invalidInventory = "invalid-inventory"
        public static let missingManifest = "missing-manifest"
        public static let invalidManifest = "invalid-manifest"
        public static let unsupportedManifestVersion = "unsupported-manifest-version"
        public static let manifestNotLast = "manifest-not-last"
        public static let manifestDuplicateEntry = "manifest-duplicate-entry"
        public static let manifestMemberMissing = "manifest-member-missing"
        public static let manifestSizeMismatch = "manifest-size-mismatch"
        public static let manifestDigestMismatch = "manifest-digest-mismatch"
        public static let unlistedMember = "unlisted-member"
        public static let unsafeName = "unsafe-name"
        public static let linkEscapes = "link-escapes"
        public static let duplicateMember = "duplicate-member"
        public static let unexpectedMemberType = "unexpected-member-type"
        public static let hasDependencies = "has-dependencies"
        public static let podInconsistent = "pod-inconsistent"
    }
}

/// Checks what an inspector learned about an archive (`ArchiveFacts`) and lists every
/// problem found, in a stable order: member names and types, required members, parsed
/// documents, the crpod manifest, then the container's dependencies and pod facts.
public enum ArchiveValidator {
    public static func validate(_ facts: ArchiveFacts) -> [ArchiveProblem] {
        var problems: [ArchiveProblem] = []
        problems += memberProblems(facts.members)
        problems += duplicateProblems(facts.members)
        problems += requiredMemberProblems(facts)
        problems += documentProblems(facts)
        if facts.engine == .crpod {
            problems += manifestProblems(facts)
        }
        if let config = facts.config {
            problems += dependencyProblems(config)
            problems += podProblems(config)
        }
        return problems
    }

    // MARK: - Members

    static func memberProblems(_ members: [ArchiveMember]) -> [ArchiveProblem] {
        var problems: [ArchiveProblem] = []
        for member in members {
            let shown = quoted(member.name)
            if let reason = CheckpointMember.unsafeNameReason(member.name) {
                problems.append(.init(code: ArchiveProblem.Code.unsafeName, member: member.name,
                                      message: "member \(shown) has an unsafe name: \(reason)"))
            } else if CheckpointMember.isRoot(member.name), member.type != .directory {
                problems.append(.init(code: ArchiveProblem.Code.unsafeName, member: member.name,
                                      message: "member \(shown) names the archive root but is a \(member.type.rawValue)"))
            }
            if member.type == .other {
                let kind = member.typeDetail ?? "special file"
                problems.append(.init(code: ArchiveProblem.Code.unexpectedMemberType, member: member.name,
                                      message: "member \(shown) is a \(kind); a checkpoint holds only files, directories and links"))
            }
            if let problem = linkProblem(member) { problems.append(problem) }
        }
        return problems
    }

    private static func linkProblem(_ member: ArchiveMember) -> ArchiveProblem? {
        guard member.type == .symlink || member.type == .hardlink else { return nil }
        let kind = member.type == .symlink ? "symlink" : "hard link"
        guard let target = member.linkTarget else {
            return .init(code: ArchiveProblem.Code.linkEscapes, member: member.name,
                         message: "\(kind) \(quoted(member.name)) has no target")
        }
        guard CheckpointMember.linkEscapes(member: member.name, target: target, isHardLink: member.type == .hardlink) else {
            return nil
        }
        return .init(code: ArchiveProblem.Code.linkEscapes, member: member.name,
                     message: "\(kind) \(quoted(member.name)) points outside the archive: \(quoted(target))")
    }

    static func duplicateProblems(_ members: [ArchiveMember]) -> [ArchiveProblem] {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for member in members where !CheckpointMember.isRoot(member.name) {
            let name = CheckpointMember.canonical(member.name)
            if counts[name] == nil { order.append(name) }
            counts[name, default: 0] += 1
        }
        return order.compactMap { name in
            guard let count = counts[name], count > 1 else { return nil }
            return .init(code: ArchiveProblem.Code.duplicateMember, member: name,
                         message: "member \(quoted(name)) appears \(count) times")
        }
    }

    static func requiredMemberProblems(_ facts: ArchiveFacts) -> [ArchiveProblem] {
        CheckpointMember.required.compactMap { name in
            guard let member = facts.member(named: name) else {
                return .init(code: ArchiveProblem.Code.missingMember, member: name,
                             message: "the archive has no \(name)")
            }
            guard member.type == .file else {
                return .init(code: ArchiveProblem.Code.missingMember, member: name,
                             message: "\(name) is a \(member.type.rawValue), not a regular file")
            }
            return nil
        }
    }

    // MARK: - Documents

    static func documentProblems(_ facts: ArchiveFacts) -> [ArchiveProblem] {
        var problems: [ArchiveProblem] = []
        if facts.config == nil, let error = facts.configError {
            problems.append(.init(code: ArchiveProblem.Code.invalidConfig, member: CheckpointMember.config,
                                  message: "\(CheckpointMember.config) cannot be read: \(error)"))
        }
        if let config = facts.config, (config.id ?? "").isEmpty {
            problems.append(.init(code: ArchiveProblem.Code.invalidConfig, member: CheckpointMember.config,
                                  message: "\(CheckpointMember.config) has no container id"))
        } else if let id = facts.config?.id, ObjectID(rawValue: id) == nil {
            // The id becomes directory names, a cgroup leaf and the runtime's id.
            problems.append(.init(code: ArchiveProblem.Code.invalidConfig, member: CheckpointMember.config,
                                  message: "\(CheckpointMember.config) has a container id that is not 64 lowercase hex digits: \(quoted(String(id.prefix(80))))"))
        }
        if facts.spec == nil, let error = facts.specError {
            problems.append(.init(code: ArchiveProblem.Code.invalidSpec, member: CheckpointMember.spec,
                                  message: "\(CheckpointMember.spec) cannot be read: \(error)"))
        }
        if facts.inventory == nil, let error = facts.inventoryError {
            problems.append(.init(code: ArchiveProblem.Code.invalidInventory, member: CheckpointMember.inventory,
                                  message: "\(CheckpointMember.inventory) cannot be read: \(error)"))
        }
        if let config = facts.config { problems += crpodSectionProblems(config) }
        return problems
    }

    private static func crpodSectionProblems(_ config: CheckpointConfig) -> [ArchiveProblem] {
        let member = CheckpointMember.config
        do {
            guard let section = try config.decodeCrpod() else { return [] }
            guard section.version <= CrpodSection.currentVersion, section.version >= 1 else {
                return [.init(code: ArchiveProblem.Code.unsupportedCrpodVersion, member: member,
                              message: "\(member): crpod section version \(section.version) is not supported "
                                  + "(this crpod reads version \(CrpodSection.currentVersion))")]
            }
            return []
        } catch {
            return [.init(code: ArchiveProblem.Code.invalidCrpodSection, member: member,
                          message: "\(member): the crpod section cannot be read: \(error)")]
        }
    }
}
