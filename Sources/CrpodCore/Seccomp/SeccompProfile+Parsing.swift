/// Reading a user's profile: the OCI `linux.seccomp` form or docker's / containers-common's
/// (`archMap`, `includes`, `excludes`, `name`). Every fault is reported at once, by JSON path.
extension SeccompProfile {
    static let topLevelKeys: Set<String> = [
        "defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap", "flags", "syscalls",
    ]
    static let ruleKeys: Set<String> = ["names", "name", "action", "errnoRet", "errno", "args", "comment", "includes", "excludes"]
    static let conditionKeys: Set<String> = ["caps", "arches"]
    static let argumentKeys: Set<String> = ["index", "value", "valueTwo", "op"]
    /// Filter flags runc 1.1 passes to seccomp(2).
    public static let knownFlags: Set<String> = [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ]

    /// Parses and validates `json`; `source` (a file path, a request field) names it in errors.
    public static func parse(_ json: JSONValue, source: String) throws -> SeccompProfile {
        var problems = ProblemList()
        let profile = read(json, problems: &problems)
        guard problems.items.isEmpty, let profile else {
            throw CoreError.invalidSeccompProfile(source: source, problems: problems.items)
        }
        return profile
    }

    private static func read(_ json: JSONValue, problems: inout ProblemList) -> SeccompProfile? {
        guard let object = json.objectValue else {
            problems.add("the top level must be a JSON object")
            return nil
        }
        problems.unknownKeys(object, allowed: topLevelKeys, at: "")
        let defaultAction = problems.action(object["defaultAction"], at: "defaultAction", required: true) ?? SeccompAction.errno
        let architectures = problems.strings(object["architectures"], at: "architectures")
        for (index, arch) in architectures.enumerated() where !SeccompArchitecture.all.contains(arch) {
            problems.add("architectures[\(index)]: unknown architecture \(quoted(arch))")
        }
        let flags = problems.strings(object["flags"], at: "flags")
        for (index, flag) in flags.enumerated() where !knownFlags.contains(flag) {
            problems.add("flags[\(index)]: unknown flag \(quoted(flag)) (known: \(knownFlags.sorted().joined(separator: ", ")))")
        }
        var rules: [SeccompRule] = []
        if let entries = object["syscalls"], !entries.isNull {
            if let array = entries.arrayValue {
                rules = array.enumerated().compactMap { readRule($1, at: "syscalls[\($0)]", problems: &problems) }
            } else {
                problems.add("syscalls: must be an array")
            }
        }
        return SeccompProfile(
            defaultAction: defaultAction, defaultErrnoRet: problems.number(object["defaultErrnoRet"], at: "defaultErrnoRet"),
            architectures: architectures, architectureMap: readArchitectureMap(object["archMap"], problems: &problems),
            flags: flags, rules: rules)
    }

    private static func readArchitectureMap(_ json: JSONValue?, problems: inout ProblemList) -> [String: [String]] {
        guard let json, !json.isNull else { return [:] }
        guard let entries = json.arrayValue else {
            problems.add("archMap: must be an array")
            return [:]
        }
        var map: [String: [String]] = [:]
        for (index, entry) in entries.enumerated() {
            let path = "archMap[\(index)]"
            let names = [entry["architecture"]?.stringValue ?? ""] + problems.strings(entry["subArchitectures"], at: path + ".subArchitectures")
            for name in names where !SeccompArchitecture.all.contains(name) {
                problems.add("\(path): unknown architecture \(quoted(name))")
            }
            map[names[0]] = Array(names.dropFirst())
        }
        return map
    }

    private static func readRule(_ json: JSONValue, at path: String, problems: inout ProblemList) -> SeccompRule? {
        guard let object = json.objectValue else {
            problems.add("\(path): must be a JSON object")
            return nil
        }
        problems.unknownKeys(object, allowed: ruleKeys, at: path + ".")
        var names = problems.strings(object["names"], at: path + ".names")
        if let single = object["name"]?.stringValue { names.append(single) }
        if names.isEmpty { problems.add("\(path): names must list at least one syscall") }
        for name in names where name.isEmpty || !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
            problems.add("\(path).names: \(quoted(name)) is not a syscall name")
        }
        let action = problems.action(object["action"], at: path + ".action", required: true) ?? SeccompAction.errno
        let args = (object["args"]?.arrayValue ?? []).enumerated().compactMap {
            readArgument($1, at: "\(path).args[\($0)]", problems: &problems)
        }
        let includes = readCondition(object["includes"], at: path + ".includes", problems: &problems)
        let excludes = readCondition(object["excludes"], at: path + ".excludes", problems: &problems)
        return SeccompRule(
            names: names, action: action, errnoRet: problems.number(object["errnoRet"], at: path + ".errnoRet"), args: args,
            onlyOnArchitectures: includes.arches, exceptOnArchitectures: excludes.arches,
            requiresCapabilities: includes.caps, unlessCapabilities: excludes.caps)
    }

    private static func readCondition(_ json: JSONValue?, at path: String, problems: inout ProblemList) -> (caps: [String], arches: [String]) {
        guard let json, !json.isNull else { return ([], []) }
        guard let object = json.objectValue else {
            problems.add("\(path): must be a JSON object")
            return ([], [])
        }
        problems.unknownKeys(object, allowed: conditionKeys, at: path + ".")
        return (problems.strings(object["caps"], at: path + ".caps"), problems.strings(object["arches"], at: path + ".arches"))
    }

    private static func readArgument(_ json: JSONValue, at path: String, problems: inout ProblemList) -> SeccompArgument? {
        guard let object = json.objectValue else {
            problems.add("\(path): must be a JSON object")
            return nil
        }
        problems.unknownKeys(object, allowed: argumentKeys, at: path + ".")
        let index = problems.number(object["index"], at: path + ".index") ?? 0
        if index > 5 { problems.add("\(path).index: \(index) is not a syscall argument (0-5)") }
        let op = object["op"]?.stringValue ?? ""
        if !SeccompAction.operators.contains(op) {
            problems.add("\(path).op: unknown operator \(quoted(op)) (known: \(SeccompAction.operators.sorted().joined(separator: ", ")))")
        }
        return SeccompArgument(
            index: index, value: problems.number(object["value"], at: path + ".value") ?? 0,
            valueTwo: problems.number(object["valueTwo"], at: path + ".valueTwo") ?? 0, op: op)
    }
}

/// Faults found while reading a profile, each prefixed with its JSON path.
struct ProblemList {
    private(set) var items: [String] = []

    mutating func add(_ problem: String) { items.append(problem) }

    mutating func unknownKeys(_ object: [String: JSONValue], allowed: Set<String>, at prefix: String) {
        for key in object.keys.sorted() where !allowed.contains(key) {
            add("\(prefix)\(key): unknown field (known: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    mutating func strings(_ json: JSONValue?, at path: String) -> [String] {
        guard let json, !json.isNull else { return [] }
        guard let strings = json.stringArrayValue else {
            add("\(path): must be an array of strings")
            return []
        }
        return strings
    }

    mutating func number(_ json: JSONValue?, at path: String) -> UInt64? {
        guard let json, !json.isNull else { return nil }
        guard let value = json.uint64Value else {
            add("\(path): must be a non-negative integer")
            return nil
        }
        return value
    }

    mutating func action(_ json: JSONValue?, at path: String, required: Bool) -> String? {
        guard let action = json?.stringValue else {
            if required { add("\(path): missing (an action such as SCMP_ACT_ERRNO)") }
            return nil
        }
        if action == "SCMP_ACT_NOTIFY" {
            add("\(path): SCMP_ACT_NOTIFY needs a seccomp agent, which crpod does not run")
        } else if !SeccompAction.all.contains(action) {
            add("\(path): unknown action \(quoted(action)) (known: \(SeccompAction.all.sorted().joined(separator: ", ")))")
        }
        return action
    }
}
