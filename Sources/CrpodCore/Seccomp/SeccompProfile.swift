/// libseccomp's action names as the OCI spec spells them (`SCMP_ACT_*`).
public enum SeccompAction {
    public static let allow = "SCMP_ACT_ALLOW"
    public static let errno = "SCMP_ACT_ERRNO"
    public static let all: Set<String> = [
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", errno,
        "SCMP_ACT_TRACE", allow, "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
    ]
    /// Comparison operators of `args[].op`.
    public static let operators: Set<String> = [
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
    ]
}

/// One condition on a syscall argument (`args[]`): argument `index` compared with `value`.
public struct SeccompArgument: Sendable, Equatable {
    public var index: UInt64
    public var value: UInt64
    public var valueTwo: UInt64
    public var op: String

    public init(index: UInt64, value: UInt64, valueTwo: UInt64 = 0, op: String) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }

    var json: JSONValue {
        var entry: JSONValue = ["index": JSONValue(index), "value": JSONValue(value), "op": .string(op)]
        if valueTwo != 0 { entry["valueTwo"] = JSONValue(valueTwo) }
        return entry
    }
}

/// One rule of a profile in containers-common's (docker's) form: the capabilities and the
/// architecture of the container decide whether it is part of the filter at all.
public struct SeccompRule: Sendable, Equatable {
    public var names: [String]
    public var action: String
    /// The errno of an `SCMP_ACT_ERRNO` rule (nil: runc's default, EPERM).
    public var errnoRet: UInt64?
    public var args: [SeccompArgument]
    /// Only on these architectures (Go names: `amd64`, `arm64`, ...); empty: on every one.
    public var onlyOnArchitectures: [String]
    /// Never on these architectures.
    public var exceptOnArchitectures: [String]
    /// Only when the container's bounding set holds every one of these.
    public var requiresCapabilities: [String]
    /// Not when the container's bounding set holds any one of these.
    public var unlessCapabilities: [String]

    public init(
        names: [String], action: String, errnoRet: UInt64? = nil, args: [SeccompArgument] = [],
        onlyOnArchitectures: [String] = [], exceptOnArchitectures: [String] = [],
        requiresCapabilities: [String] = [], unlessCapabilities: [String] = []
    ) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
        self.onlyOnArchitectures = onlyOnArchitectures
        self.exceptOnArchitectures = exceptOnArchitectures
        self.requiresCapabilities = requiresCapabilities
        self.unlessCapabilities = unlessCapabilities
    }

    /// Whether the rule applies to a container with `capabilities` (its bounding set) on
    /// `architecture` — containers-common's reading of `includes` and `excludes`.
    public func applies(capabilities: Set<String>, architecture: String) -> Bool {
        if !onlyOnArchitectures.isEmpty && !onlyOnArchitectures.contains(architecture) { return false }
        if exceptOnArchitectures.contains(architecture) { return false }
        if unlessCapabilities.contains(where: capabilities.contains) { return false }
        return requiresCapabilities.allSatisfy(capabilities.contains)
    }

    var json: JSONValue {
        var entry: JSONValue = ["names": JSONValue(strings: names), "action": .string(action)]
        if let errnoRet { entry["errnoRet"] = JSONValue(errnoRet) }
        if !args.isEmpty { entry["args"] = .array(args.map(\.json)) }
        return entry
    }
}

/// A seccomp profile before it meets a container: default action, architectures and
/// conditional rules. `linuxSeccomp` resolves it into the OCI `linux.seccomp` object.
public struct SeccompProfile: Sendable, Equatable {
    public var defaultAction: String
    public var defaultErrnoRet: UInt64?
    /// `architectures` as given (OCI form), used when `architectureMap` has no entry for the host.
    public var architectures: [String]
    /// docker's `archMap`: native `SCMP_ARCH_*` → the sub-architectures it also runs.
    public var architectureMap: [String: [String]]
    public var flags: [String]
    public var rules: [SeccompRule]

    public init(
        defaultAction: String, defaultErrnoRet: UInt64? = nil, architectures: [String] = [],
        architectureMap: [String: [String]] = [:], flags: [String] = [], rules: [SeccompRule]
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.architectureMap = architectureMap
        self.flags = flags
        self.rules = rules
    }

    /// The OCI `linux.seccomp` object for a container whose bounding set is `capabilities`,
    /// on `architecture` (a Go name; the host's by default).
    public func linuxSeccomp(capabilities: Set<String>, architecture: String = SeccompArchitecture.host) -> JSONValue {
        var object: JSONValue = ["defaultAction": .string(defaultAction)]
        if let defaultErrnoRet { object["defaultErrnoRet"] = JSONValue(defaultErrnoRet) }
        let arches = resolvedArchitectures(for: architecture)
        if !arches.isEmpty { object["architectures"] = JSONValue(strings: arches) }
        if !flags.isEmpty { object["flags"] = JSONValue(strings: flags) }
        let applied = rules.filter { $0.applies(capabilities: capabilities, architecture: architecture) }
        if !applied.isEmpty { object["syscalls"] = .array(applied.map(\.json)) }
        return object
    }

    /// The host's native architecture and its sub-architectures when the map names it
    /// (docker's rule), else the profile's own list.
    func resolvedArchitectures(for architecture: String) -> [String] {
        guard let native = SeccompArchitecture.nativeName(goArchitecture: architecture),
              let subArchitectures = architectureMap[native] else { return architectures }
        return [native] + subArchitectures
    }
}

/// Architecture names: Go's (`includes.arches`) and libseccomp's (`SCMP_ARCH_*`).
public enum SeccompArchitecture {
    /// The architecture crpod was built for, as Go (and so containers-common) names it.
    public static var host: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #elseif arch(s390x)
        return "s390x"
        #elseif arch(powerpc64le)
        return "ppc64le"
        #elseif arch(riscv64)
        return "riscv64"
        #else
        return "unknown"
        #endif
    }

    static let nativeNames = [
        "amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "s390x": "SCMP_ARCH_S390X",
        "ppc64le": "SCMP_ARCH_PPC64LE", "riscv64": "SCMP_ARCH_RISCV64", "386": "SCMP_ARCH_X86", "arm": "SCMP_ARCH_ARM",
    ]

    static func nativeName(goArchitecture: String) -> String? { nativeNames[goArchitecture] }

    /// Every `SCMP_ARCH_*` name libseccomp knows.
    public static let all: Set<String> = [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    ]
}

/// How a container's syscalls are filtered: podman's `--security-opt seccomp=...`.
/// On the wire: `"default"`, `"unconfined"` or the profile's JSON object.
public enum SeccompChoice: Sendable, Equatable, Codable {
    /// crpod's default profile (containers-common's), resolved against the container's capabilities.
    case defaultProfile
    /// No filter (`seccomp=unconfined`).
    case unconfined
    /// A profile in OCI or docker form (`seccomp=/path/profile.json`); `source` names it in errors.
    case profile(JSONValue, source: String)

    /// The `linux.seccomp` object for a container whose bounding set is `capabilities`, or nil
    /// for no filter. A custom profile is validated here (CoreError.invalidSeccompProfile).
    public func linuxSeccomp(capabilities: Set<String>) throws -> JSONValue? {
        switch self {
        case .defaultProfile: return DefaultSeccompProfile.profile.linuxSeccomp(capabilities: capabilities)
        case .unconfined: return nil
        case let .profile(json, source): return try SeccompProfile.parse(json, source: source).linuxSeccomp(capabilities: capabilities)
        }
    }

    public static let defaultName = "default"
    public static let unconfinedName = "unconfined"

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let value = try container.decode(JSONValue.self)
        switch value.stringValue {
        case Self.defaultName?: self = .defaultProfile
        case Self.unconfinedName?: self = .unconfined
        case let other?:
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "seccomp must be \"default\", \"unconfined\" or a profile object, got \(quoted(other))")
        case nil: self = .profile(value, source: "in the request's seccomp field")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .defaultProfile: try container.encode(Self.defaultName)
        case .unconfined: try container.encode(Self.unconfinedName)
        case let .profile(json, _): try container.encode(json)
        }
    }
}
