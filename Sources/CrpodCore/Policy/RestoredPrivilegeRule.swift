/// What the host says about the spec's masked and read-only paths: the ones that do not exist
/// here (runc masks and protects only paths that exist, e.g. `/proc/kcore` on a kernel without it).
public struct ImageRuleHost: Sendable, Equatable {
    public var absentPaths: Set<String>
    /// crpod hands CRIU an LSM profile (`--lsm-profile`), which replaces every image's `lsm_profile`.
    public var lsmProfileGiven: Bool

    public init(absentPaths: Set<String> = [], lsmProfileGiven: Bool = false) {
        self.absentPaths = absentPaths
        self.lsmProfileGiven = lsmProfileGiven
    }
}

/// The image rule: what CRIU will restore may not exceed what the final, policy-checked spec
/// would give a freshly started container. CRIU restores credentials, capabilities,
/// no_new_privs, seccomp and the mount tree from the images, not from the spec, so each is
/// compared with the spec here. Pure; every problem is reported at once, each naming the
/// task, CRIU's field name, the value and what the spec allows.
public enum RestoredPrivilegeRule {
    public static func problems(_ facts: RestoredImageFacts, spec: OCISpec, host: ImageRuleHost = ImageRuleHost()) -> [String] {
        var found: [String] = []
        // A zombie is restored dead: it never runs, so its (absent) creds and seccomp carry nothing.
        for thread in facts.threads where !thread.core.isZombie {
            found += threadProblems(thread, spec: spec, lsmProfileGiven: host.lsmProfileGiven)
        }
        found += seccompProblems(facts, spec: spec)
        found += userNamespaceProblems(facts, spec: spec)
        for namespace in facts.mountNamespaces {
            found += mountProblems(namespace, spec: spec, host: host)
        }
        return found
    }

    /// `task 7` for a leader, `task 7 thread 9` for another thread.
    static func label(_ thread: RestoredThread) -> String {
        thread.pid == thread.tid ? "task \(thread.pid)" : "task \(thread.pid) thread \(thread.tid)"
    }

    static func threadProblems(_ thread: RestoredThread, spec: OCISpec, lsmProfileGiven: Bool) -> [String] {
        let task = label(thread)
        guard let creds = thread.core.credentials else {
            return ["\(task): core-\(thread.tid).img has no creds (an image format CRIU reads from a separate creds image; refused)"]
        }
        var found = capabilityProblems(creds, task: task, spec: spec)
        if spec.json.value(atPath: ["process", "noNewPrivileges"])?.boolValue == true, creds.noNewPrivs != 1 {
            found.append("\(task): no_new_privs is \(creds.noNewPrivs) but the spec sets noNewPrivileges (allowed: 1)")
        }
        found += idProblems(creds, task: task, spec: spec)
        found += lsmProblems(creds, task: task, spec: spec, profileGiven: lsmProfileGiven)
        found += rlimitProblems(thread.core.rlimits, task: task, spec: spec)
        return found
    }

    /// Each image set ⊆ the spec's set of the same name. A thread whose uid or euid is 0 may
    /// have cap_prm and cap_eff up to the spec's bounding set: the kernel gives a root execve
    /// its whole bounding set, so a fresh container's root process can reach that much too.
    static func capabilityProblems(_ creds: CRIUCredentials, task: String, spec: OCISpec) -> [String] {
        func specSet(_ name: String) -> Set<Int> {
            CapabilityNames.numbers(named: spec.json.value(atPath: ["process", "capabilities", name])?.stringArrayValue ?? [])
        }
        let rootMayRaise = creds.uid == 0 || creds.euid == 0
        let checks: [(field: String, words: [UInt32], set: String, allowed: Set<Int>)] = [
            ("cap_inh", creds.capInh, "inheritable", specSet("inheritable")),
            ("cap_prm", creds.capPrm, rootMayRaise ? "bounding" : "permitted", specSet(rootMayRaise ? "bounding" : "permitted")),
            ("cap_eff", creds.capEff, rootMayRaise ? "bounding" : "effective", specSet(rootMayRaise ? "bounding" : "effective")),
            ("cap_bnd", creds.capBnd, "bounding", specSet("bounding")),
            ("cap_amb", creds.capAmb, "ambient", specSet("ambient")),
        ]
        return checks.compactMap { check in
            let beyond = CapabilityNames.numbers(inWords: check.words).filter { !check.allowed.contains($0) }
            guard !beyond.isEmpty else { return nil }
            let allowed = check.allowed.sorted().map(CapabilityNames.name)
            return "\(task): \(check.field) has \(beyond.map(CapabilityNames.name).joined(separator: ", ")) beyond the spec's \(check.set) set"
                + " (allowed: \(allowed.isEmpty ? "none" : allowed.joined(separator: ", ")))"
        }
    }

    /// With a non-root spec user every uid is that user and every gid one of its groups; a
    /// root spec user may drop to any id (what a fresh root process could do).
    static func idProblems(_ creds: CRIUCredentials, task: String, spec: OCISpec) -> [String] {
        let user = spec.json.value(atPath: ["process", "user"])
        let uid = user?["uid"]?.uint64Value ?? 0
        guard uid != 0 else { return [] }
        let gid = user?["gid"]?.uint64Value ?? 0
        let extra = (user?["additionalGids"]?.arrayValue ?? []).compactMap(\.uint64Value)
        let groups = Set([gid] + extra)
        var found: [String] = []
        for (field, value) in [("uid", creds.uid), ("euid", creds.euid), ("suid", creds.suid), ("fsuid", creds.fsuid)] where UInt64(value) != uid {
            found.append("\(task): \(field) is \(value) but the spec's user is \(uid) (allowed: \(uid))")
        }
        let allowedGroups = groups.sorted().map(String.init).joined(separator: ", ")
        for (field, value) in [("gid", creds.gid), ("egid", creds.egid), ("sgid", creds.sgid), ("fsgid", creds.fsgid)] where !groups.contains(UInt64(value)) {
            found.append("\(task): \(field) is \(value), not one of the spec's groups (allowed: \(allowedGroups))")
        }
        let strange = creds.groups.filter { !groups.contains(UInt64($0)) }
        if !strange.isEmpty {
            found.append("\(task): groups has \(strange.map(String.init).joined(separator: ", ")) beyond the spec's groups (allowed: \(allowedGroups))")
        }
        return found
    }

    /// An LSM profile in the image is kept by CRIU unless crpod passes one: it must be the spec's.
    static func lsmProblems(_ creds: CRIUCredentials, task: String, spec: OCISpec, profileGiven: Bool) -> [String] {
        let labels = [spec.processLabel, spec.json.value(atPath: ["process", "apparmorProfile"])?.stringValue].compactMap { $0 }.filter { !$0.isEmpty }
        let fields = [("lsm_profile", profileGiven ? nil : creds.lsmProfile), ("lsm_sockcreate", creds.lsmSockcreate)]
        return fields.compactMap { field, value in
            guard let value, !value.isEmpty, !labels.contains(where: { value.contains($0) }) else { return nil }
            return "\(task): \(field) is \(value) but the spec's label is \(labels.first ?? "none") (allowed: \(labels.first ?? "none"))"
        }
    }

    /// RLIMIT_* resource names in the kernel's order, as the image's rlimits list them.
    static let rlimitNames = [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ]

    /// A limit the spec sets may not be raised above its hard value (CRIU sets rlimits as root).
    static func rlimitProblems(_ limits: [CRIURlimit], task: String, spec: OCISpec) -> [String] {
        let specLimits = spec.json.value(atPath: ["process", "rlimits"])?.arrayValue ?? []
        return specLimits.compactMap { entry in
            guard let type = entry["type"]?.stringValue, let hard = entry["hard"]?.uint64Value,
                  let index = rlimitNames.firstIndex(of: type), limits.indices.contains(index) else { return nil }
            let limit = limits[index]
            guard limit.max > hard || limit.cur > hard else { return nil }
            return "\(task): rlimits \(type) is \(limit.cur)/\(limit.max) beyond the spec's hard limit (allowed: \(hard))"
        }
    }

    /// crpod runs no user namespace of its own: an image that creates one must match the
    /// spec's user namespace and maps exactly.
    static func userNamespaceProblems(_ facts: RestoredImageFacts, spec: OCISpec) -> [String] {
        guard !facts.userNamespaces.isEmpty else { return [] }
        let hasUserNamespace = spec.namespaces.contains { $0.type == OCINamespaceType.user && $0.path == nil }
        func specMap(_ key: String) -> [CRIUIDExtent] {
            (spec.json.value(atPath: ["linux", key])?.arrayValue ?? []).map {
                CRIUIDExtent(first: UInt32(truncatingIfNeeded: $0["containerID"]?.uint64Value ?? 0),
                             lowerFirst: UInt32(truncatingIfNeeded: $0["hostID"]?.uint64Value ?? 0),
                             count: UInt32(truncatingIfNeeded: $0["size"]?.uint64Value ?? 0))
            }
        }
        let expected = CRIUUserNamespace(uidMap: specMap("uidMappings"), gidMap: specMap("gidMappings"))
        return facts.userNamespaces.keys.sorted().compactMap { image in
            guard let namespace = facts.userNamespaces[image] else { return nil }
            if !hasUserNamespace {
                return "\(image): the image creates a user namespace (uid_map \(describe(namespace.uidMap))) but the spec has none (allowed: none)"
            }
            guard namespace != expected else { return nil }
            return "\(image): uid_map \(describe(namespace.uidMap)), gid_map \(describe(namespace.gidMap)) differ from the spec's"
                + " (allowed: uid_map \(describe(expected.uidMap)), gid_map \(describe(expected.gidMap)))"
        }
    }

    static func describe(_ map: [CRIUIDExtent]) -> String {
        map.isEmpty ? "[]" : map.map { "\($0.first) \($0.lowerFirst) \($0.count)" }.joined(separator: "; ")
    }
}
