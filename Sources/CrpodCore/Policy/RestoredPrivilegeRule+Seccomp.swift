/// The seccomp part of the image rule.
///
/// With `linux.seccomp` in the spec, every thread must be in filter mode with a non-empty
/// chain, and for every syscall the spec does not allow unconditionally, the image's chain
/// (run with nr, the ABI's AUDIT_ARCH and zero arguments) must not return ALLOW or LOG — for
/// the x86_64 ABI and for i386, which a 64-bit process reaches with `int 0x80`.
/// Deliberately not compared: syscalls the spec decides on their arguments (a rule with
/// `args`), the x32 ABI (numbers with bit 30 set; off unless the kernel is booted with it),
/// and what a refused syscall gets (errno, kill, trap): only "runs" versus "does not run"
/// matters for privilege.
extension RestoredPrivilegeRule {
    /// The kernel's limit on the instructions of one thread's filters (MAX_INSNS_PER_PATH,
    /// counting 4 per filter): CRIU cannot install a longer chain.
    static let maxChainInstructions = 32768
    /// Distinct chains evaluated per image; threads share a handful. More is refused, so a
    /// hostile image cannot make the check run for minutes.
    static let maxDistinctChains = 8

    static func seccompProblems(_ facts: RestoredImageFacts, spec: OCISpec) -> [String] {
        guard let profile = spec.json.value(atPath: ["linux", "seccomp"]), profile.objectValue != nil else { return [] }
        let view = SeccompProfileView(profile)
        let abis = [SyscallTable.x86_64, SyscallTable.i386].map { ($0, view.syscallsNotAllowedUnconditionally(in: $0)) }
        var found: [String] = []
        // Threads of one process usually share a chain: evaluate each distinct chain once.
        var verdicts: [[[BPFInstruction]]: String?] = [:]
        for thread in facts.threads where !thread.core.isZombie {
            let task = label(thread)
            guard thread.core.seccompMode == .filter else {
                let mode = thread.core.seccompMode.map { "\($0)" } ?? "disabled"
                found.append("\(task): seccomp mode is \(mode) but the spec has a seccomp profile (allowed: filter)")
                continue
            }
            guard let index = thread.core.seccompFilter, let chain = facts.seccomp?.chain(from: index), !chain.isEmpty else {
                found.append("\(task): seccomp filter \(thread.core.seccompFilter.map(String.init) ?? "none") is missing from seccomp.img or loops (allowed: the spec's filter)")
                continue
            }
            if verdicts[chain] == nil {
                verdicts[chain] = verdicts.count < maxDistinctChains
                    ? verdict(chain, abis: abis)
                    : "more than \(maxDistinctChains) distinct filter chains, which the rule does not evaluate"
            }
            if let problem = verdicts[chain] ?? nil { found.append("\(task): seccomp filter \(problem) (allowed: the spec's syscalls)") }
        }
        return found
    }

    /// What is wrong with one chain, or nil when it allows nothing the profile does not.
    static func verdict(_ chain: [[BPFInstruction]], abis: [(SyscallTable, [(name: String, number: Int)])]) -> String? {
        let length = chain.reduce(0) { $0 + $1.count + 4 }
        guard length <= maxChainInstructions else {
            return "chain of \(length) instructions is over the kernel's \(maxChainInstructions)"
        }
        let allowed: [String] = abis.compactMap { table, denied in
            let names = allowedBeyondSpec(chain, denied: denied, arch: table.auditArch)
            return names.isEmpty ? nil : summarize(names) + (table.auditArch == SyscallTable.i386.auditArch ? " (i386)" : "")
        }
        return allowed.isEmpty ? nil : "allows \(allowed.joined(separator: "; ")) which the spec's profile does not allow"
    }

    /// Names of `denied` syscalls the chain lets run; an unrunnable program is one entry.
    static func allowedBeyondSpec(_ chain: [[BPFInstruction]], denied: [(name: String, number: Int)], arch: UInt32) -> [String] {
        var allowed: [String] = []
        for syscall in denied {
            do {
                let action = try SeccompBPF.run(chain: chain, on: .init(nr: Int32(syscall.number), arch: arch))
                if SeccompBPF.allows(action) { allowed.append(syscall.name) }
            } catch {
                return ["an unreadable program (\(error.reason))"]
            }
        }
        return allowed
    }

    static func summarize(_ names: [String]) -> String {
        names.count <= 12 ? names.joined(separator: ", ") : names.prefix(12).joined(separator: ", ") + " and \(names.count - 12) more"
    }
}

/// The parts of an OCI `linux.seccomp` object the rule compares.
struct SeccompProfileView {
    let defaultAction: String
    let rules: [(names: [String], action: String, conditional: Bool)]

    init(_ profile: JSONValue) {
        defaultAction = profile["defaultAction"]?.stringValue ?? "SCMP_ACT_KILL"
        rules = (profile["syscalls"]?.arrayValue ?? []).map { rule in
            (rule["names"]?.stringArrayValue ?? [], rule["action"]?.stringValue ?? "", !(rule["args"]?.arrayValue ?? []).isEmpty)
        }
    }

    static func allows(_ action: String) -> Bool { action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG" }

    /// The syscalls of `table` that the profile does not let run whatever their arguments,
    /// leaving out those any rule decides on arguments.
    func syscallsNotAllowedUnconditionally(in table: SyscallTable) -> [(name: String, number: Int)] {
        var conditional = Set<String>()
        var allowed = Set<String>()
        var refused = Set<String>()
        for rule in rules {
            for name in rule.names {
                if rule.conditional { conditional.insert(name) } else if Self.allows(rule.action) { allowed.insert(name) } else { refused.insert(name) }
            }
        }
        let defaultAllows = Self.allows(defaultAction)
        return table.numbers.compactMap { name, number in
            guard !conditional.contains(name) else { return nil }
            let runs = allowed.contains(name) || (defaultAllows && !refused.contains(name))
            return runs ? nil : (name, number)
        }.sorted { $0.number < $1.number }
    }
}
