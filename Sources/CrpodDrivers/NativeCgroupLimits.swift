import CrpodCore

/// One value to write into a file of the container's cgroup: in the v1 hierarchy of
/// `controller`, or in the unified one when `controller` is nil.
public struct NativeCgroupWrite: Sendable, Equatable {
    public var controller: String?
    public var file: String
    public var value: String

    public init(controller: String?, file: String, value: String) {
        self.controller = controller
        self.file = file
        self.value = value
    }
}

/// config.json's `linux.resources` as cgroup file writes, the way runc's cgroup managers set
/// them at restore (libcontainer/cgroups/fs and fs2). Pure. Handled: memory (limit,
/// reservation, swap), pids, cpu (shares, quota, period, cpus, mems). `devices` is
/// `DeviceCgroup`'s (see NativeEngine+Restore.swift); any other non-empty section is refused
/// by name rather than silently dropped.
public enum NativeCgroupLimits {
    static let handled: Set<String> = ["memory", "pids", "cpu", "devices"]

    public static func writes(id: String, _ resources: JSONValue?, unified: Bool) throws(NativeEngineError) -> [NativeCgroupWrite] {
        guard let resources = resources?.objectValue else { return [] }
        let unsupported = resources.filter { key, value in !handled.contains(key) && !isEmpty(value) }.keys.sorted()
        guard unsupported.isEmpty else {
            throw .unsupported(id: id, what: "config.json's linux.resources sets \(unsupported.joined(separator: ", ")), which the native engine does not apply yet (use --engine runc)")
        }
        let memory = resources["memory"], cpu = resources["cpu"]
        let limit = int(memory?["limit"]), swap = int(memory?["swap"])
        var writes: [NativeCgroupWrite] = []
        func add(_ controller: String, _ v1File: String, _ v2File: String, _ value: String?) {
            guard let value else { return }
            writes.append(unified ? NativeCgroupWrite(controller: nil, file: v2File, value: value)
                : NativeCgroupWrite(controller: controller, file: v1File, value: value))
        }
        add("memory", "memory.limit_in_bytes", "memory.max", limit.map { unified ? maxOr($0) : "\($0)" })
        add("memory", "memory.soft_limit_in_bytes", "memory.low", int(memory?["reservation"]).map { "\($0)" })
        if let swap {
            // v1 takes memory+swap; v2 takes swap alone (runc: swap - limit, -1 = max).
            add("memory", "memory.memsw.limit_in_bytes", "memory.swap.max",
                unified ? (swap < 0 ? "max" : "\(max(0, swap - (limit ?? 0)))") : "\(swap)")
        }
        add("pids", "pids.max", "pids.max", int(resources["pids"]?["limit"]).map(maxOr))
        add("cpu", "cpu.shares", "cpu.weight", int(cpu?["shares"]).map { unified ? "\(weight(shares: $0))" : "\($0)" })
        if unified, let quota = int(cpu?["quota"]) {
            writes.append(NativeCgroupWrite(controller: nil, file: "cpu.max", value: "\(maxOr(quota)) \(int(cpu?["period"]) ?? 100_000)"))
        } else if !unified {
            add("cpu", "cpu.cfs_period_us", "", int(cpu?["period"]).map { "\($0)" })
            add("cpu", "cpu.cfs_quota_us", "", int(cpu?["quota"]).map { "\($0)" })
        }
        add("cpuset", "cpuset.cpus", "cpuset.cpus", cpu?["cpus"]?.stringValue)
        add("cpuset", "cpuset.mems", "cpuset.mems", cpu?["mems"]?.stringValue)
        return writes
    }

    static func int(_ value: JSONValue?) -> Int? { value?.int64Value.map { Int($0) } }

    /// A limit ≤ 0 means none: `max`.
    static func maxOr(_ value: Int) -> String { value > 0 ? "\(value)" : "max" }

    /// runc's `ConvertCPUSharesToCgroupV2Value`: shares 2…262144 → weight 1…10000.
    static func weight(shares: Int) -> Int { shares == 0 ? 100 : 1 + ((shares - 2) * 9999) / 262_142 }

    static func isEmpty(_ value: JSONValue) -> Bool {
        if let object = value.objectValue { return object.isEmpty }
        if let array = value.arrayValue { return array.isEmpty }
        return value == .null
    }
}
