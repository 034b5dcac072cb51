// fuzz-spec: JSONValue, OCISpec, CheckpointConfig, the restore planner, the spec patch a
// restore applies (OCISpec.restored(by:rootPath:), what Engine.restoredSpec applies) and the restore
// policy, on an arbitrary document.
//
// The input is JSON: a spec.dump, or a config.dump (podman's holds the spec under "spec").
// A hash of the input picks the variable parts (target pod, rename, which namespaces a
// synthetic plan joins, keeps private or drops), so mutations reach every branch.
//
// Properties:
// - json-roundtrip: parse(encode(v)) == v ("lossless", as JSONValue promises);
// - spec-patch-lossless: the patch changes only what it sets (root.path, linux.cgroupsPath,
//   linux.namespaces of the five pod-shareable types, annotations, hostname, labels);
//   every other member, and every namespace entry of another type, is unchanged;
// - spec-patch-applied: what was set reads back;
// - config-setters: CheckpointConfig setters read back;
// - plan-identity: a plan the planner accepts restores under a valid ObjectID and NameRule name;
// - policy-bind-source / policy-devices: RestorePolicy flags a bind mount whose source,
//   resolved component by component as the kernel does, lies outside the allowed
//   directories, and a device rule that runc reads as "allow every device".
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodCore
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    textRules(text)
    guard let json = try? JSONValue.parse(Data(bytes), context: "fuzz") else { return 0 }
    jsonRoundTrip(json)
    guard json.objectValue != nil else { return 0 }
    var choice = Choice(bytes)
    let config = try? CheckpointConfig(json: json)
    let specJSON = json["spec"].flatMap { $0.objectValue == nil ? nil : $0 } ?? json
    guard let spec = try? OCISpec(json: specJSON) else { return 0 }
    readEverything(spec)
    if let config { configSetters(config, &choice) }
    if let config, let plan = plannedRestore(config: config, spec: spec, &choice) {
        checkPatch(spec, plan: plan)
    }
    checkPatch(spec, plan: syntheticPlan(&choice))
    policy(spec)
    return 0
}

/// Deterministic choices from the input (FNV-1a), consumed a few bits at a time.
struct Choice {
    var state: UInt64

    init(_ bytes: [UInt8]) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        state = hash
    }

    mutating func next(_ count: UInt64) -> UInt64 {
        let value = state % count
        state = state / count ^ (state &* 0x9e37_79b9_7f4a_7c15 >> 17)
        return value
    }

    mutating func flag() -> Bool { next(2) == 1 }
}

// MARK: - Text rules

func textRules(_ text: String) {
    if let shares = try? ShareList.parse(text) {
        Property.check(shares == ShareList.allowed.filter(shares.contains), "sharelist-canonical", "\(shares)")
    }
    if (try? NameRule.validate(text, what: "name")) != nil {
        Property.check(!text.isEmpty && text.utf8.count <= NameRule.maxLength, "namerule", text)
        Property.check(text.utf8.allSatisfy { $0 < 0x80 && $0 != 0x2F && $0 > 0x20 }, "namerule-ascii", text)
    }
}

// MARK: - JSON

func jsonRoundTrip(_ json: JSONValue) {
    for pretty in [false, true] {
        guard let encoded = try? json.encoded(pretty: pretty) else {
            Property.check(false, "json-roundtrip", "a parsed value cannot be encoded")
            return
        }
        do {
            let again = try JSONValue.parse(encoded, context: "re-parse")
            Property.check(again == json, "json-roundtrip",
                           "\(json) -> \(String(decoding: encoded, as: UTF8.self)) -> \(again)")
        } catch {
            Property.check(false, "json-roundtrip", "re-parse failed: \(error)")
        }
    }
}

func readEverything(_ spec: OCISpec) {
    _ = spec.namespaces
    _ = spec.cgroupsPath
    _ = spec.hostname
    _ = spec.annotations
    _ = spec.processArgs
    _ = spec.processEnv
    _ = spec.rootPath
    _ = spec.mountLabel
    _ = spec.processLabel
    for type in OCINamespaceType.all { _ = spec.namespacePath(type: type) }
}

// MARK: - Config

func configSetters(_ original: CheckpointConfig, _ choice: inout Choice) {
    var config = original
    _ = (config.id, config.name, config.pod, config.dependencies, config.cgroupParent, config.createCommand)
    _ = (config.createNetNS, config.rootfs, config.rootfsImageName, config.rootfsImageID, config.runtime)
    _ = (config.mountLabel, config.processLabel, config.createdTime, config.hasCrpodSection)
    _ = config.dependenciesOutsidePod
    let section = try? config.decodeCrpod()
    if let section {
        // The setter merges over the old member; reading back must give the same section.
        config.crpod = section
        Property.check(config.crpod == section, "config-setters", "crpod section \(section) reads back as \(String(describing: config.crpod))")
        var changed = section
        changed.podID = choice.flag() ? nil : "pod-\(choice.next(100))"
        changed.hostname = choice.flag() ? nil : "host"
        config.crpod = changed
        Property.check(config.crpod == changed, "config-setters", "changed crpod section \(changed) reads back as \(String(describing: config.crpod))")
    }
    var owners = original.sharedNamespaceOwners
    owners["pid"] = choice.flag() ? nil : "infra"
    config.sharedNamespaceOwners = owners
    Property.check(config.sharedNamespaceOwners == owners, "config-setters", "owners \(owners)")
    config.pod = "p"
    config.createCommand = ["podman", "run", "--pod=x"]
    config.mountLabel = "system_u:object_r:container_file_t:s0"
    Property.check(config.pod == "p" && config.createCommand == ["podman", "run", "--pod=x"]
                       && config.mountLabel == "system_u:object_r:container_file_t:s0",
                   "config-setters", "pod/createCommand/mountLabel")
    config.pod = nil
    config.dependencies = []
    Property.check(config.pod == nil && config.dependencies.isEmpty, "config-setters", "clearing pod/dependencies")
    if let data = try? original.data() {
        let again = try? CheckpointConfig(data: data, context: "re-parse")
        Property.check(again == original, "json-roundtrip", "config.dump does not survive data() -> init(data:)")
    }
}

// MARK: - Plans

let infraPID: Int32 = 4242
let podShareable = OCINamespaceType.podShareable

/// The plan the engine would make (Engine.archivePlanFacts / podPlanFacts / hostPlanFacts,
/// with a target pod that shares what the checkpoint's pod shared, or a chosen set).
func plannedRestore(config: CheckpointConfig, spec: OCISpec, _ choice: inout Choice) -> RestorePlan? {
    let archive = ArchivePlanFacts(
        containerID: config.id ?? "", containerName: config.name ?? "", podID: config.pod,
        sharedNamespaces: Set(config.sharedNamespaceOwners.keys),
        privateNamespaces: Set(spec.namespaces.filter { $0.path == nil || config.pod == nil }.map(\.type)),
        dependencies: config.dependenciesOutsidePod, createCommand: config.createCommand,
        annotations: spec.annotations, checkpointPIDs: [1, 7, Int32(choice.next(400))],
        hostname: spec.hostname ?? config.crpod?.hostname, hasIPCObjectImages: choice.flag())
    let shares: Set<String> = choice.flag()
        ? Set(config.crpod?.podShares ?? Array(config.sharedNamespaceOwners.keys))
        : Set(ShareList.allowed.filter { _ in choice.flag() })
    let pod = PodPlanFacts(
        id: "c0ffee", name: "target", shares: shares, infraPID: infraPID, infraRunning: true,
        cgroupPath: "/crpod/pod-c0ffee/", processLabel: choice.flag() ? "system_u:system_r:container_t:s0:c1,c2" : nil,
        mountLabel: choice.flag() ? "system_u:object_r:container_file_t:s0:c1,c2" : nil,
        hostname: choice.flag() ? "target-host" : nil, pidsInUse: [1, Int32(choice.next(400))])
    let host = HostPlanFacts(
        criuVersion: 40101, runtimePath: "/usr/sbin/runc", runtimeSupportsPodRestore: true,
        selinuxEnabled: choice.flag(), existingContainerNames: ["taken"], cgroupParent: "/crpod")
    let options = RestorePlanOptions(
        podReference: archive.podID == nil && choice.next(4) != 0 ? nil : "target",
        newName: choice.flag() ? "renamed-\(choice.next(10))" : nil, newID: String(repeating: "f00d", count: 16),
        allowPrivatePIDInSharedPod: choice.flag())
    switch RestorePlanner.plan(archive: archive, pod: options.podReference == nil ? nil : pod, host: host, options: options) {
    case let .success(plan):
        // The ID names the container's directory (StateStore.containerDirectory), its cgroup
        // and runc's container; the name is looked up and shown. Both come from the archive
        // unless --name was given, and must be what crpod itself would accept. (An empty ID
        // never gets here: ArchiveValidator reports "config.dump has no container id".)
        guard !(config.id ?? "").isEmpty else { return plan }
        let validID = ObjectID(rawValue: plan.containerID) != nil
        Property.check(validID, "plan-identity",
                       "the plan restores as container ID \(Array(plan.containerID.utf8)) (not 64 lowercase hex digits)")
        Property.check((try? NameRule.validate(plan.containerName, what: "container name")) != nil, "plan-identity",
                       "the plan restores as container name \(Array(plan.containerName.utf8)), which NameRule refuses")
        if validID {
            Property.check(plan.cgroupsPath == "/crpod/pod-c0ffee/" + plan.containerID || plan.cgroupsPath == "/crpod/" + plan.containerID,
                           "plan-cgroups-path", plan.cgroupsPath)
        }
        return plan
    case let .failure(problems):
        Property.check(!problems.problems.isEmpty, "plan-problems")
        _ = problems.description
        _ = problems.codes
        return nil
    }
}

/// A plan joining, keeping private or dropping each pod-shareable namespace by choice.
func syntheticPlan(_ choice: inout Choice) -> RestorePlan {
    var join: [String: String] = [:]
    var privateTypes: [String] = []
    for type in podShareable {
        switch choice.next(3) {
        case 0: join[type] = "/proc/\(infraPID)/ns/\(type == OCINamespaceType.network ? "net" : type)"
        case 1: privateTypes.append(type)
        default: break
        }
    }
    return RestorePlan(
        containerName: "c", containerID: "0123abcd", podID: "c0ffee", podName: "target",
        joinNamespaces: join, privateNamespaces: privateTypes, cgroupsPath: "/crpod/pod-c0ffee/0123abcd",
        lsmProfile: choice.flag() ? "selinux:system_u:system_r:container_t:s0" : nil,
        lsmMountContext: choice.flag() ? "system_u:object_r:container_file_t:s0" : nil,
        annotations: ["io.crpod.container.name": "c"])
}

// MARK: - The restore patch (OCISpec.restored(by:rootPath:), the engine's patch)

func checkPatch(_ original: OCISpec, plan: RestorePlan) {
    let rootPath = "/var/lib/crpod/containers/\(plan.containerID)/rootfs"
    let patched = original.restored(by: plan, rootPath: rootPath)
    let before = original.json.objectValue ?? [:]
    let after = patched.json.objectValue ?? [:]
    let touched: Set<String> = ["root", "linux", "annotations", "hostname", "process"]
    Property.check(after["hooks"] == nil, "spec-patch-applied", "hooks survived the patch")
    for (key, value) in before where !touched.contains(key) && key != "hooks" {
        Property.check(after[key] == value, "spec-patch-lossless", "top-level member \(key) changed")
    }
    Property.check(Set(after.keys).subtracting(before.keys).isSubset(of: touched), "spec-patch-lossless", "new top-level members")
    unchanged(before["root"], after["root"], except: ["path"], "root")
    unchanged(before["linux"], after["linux"], except: ["namespaces", "cgroupsPath", "mountLabel"], "linux")
    unchanged(before["process"], after["process"], except: ["selinuxLabel"], "process")
    // Namespace entries of other types keep their content and order.
    let otherBefore = namespaceEntries(original).filter { !podShareable.contains($0["type"]?.stringValue ?? "") }
    let otherAfter = namespaceEntries(patched).filter { !podShareable.contains($0["type"]?.stringValue ?? "") }
    if !otherBefore.isEmpty || original.json.value(atPath: ["linux", "namespaces"])?.arrayValue != nil {
        Property.check(otherBefore == otherAfter, "spec-patch-lossless", "namespace entries of other types: \(otherBefore) -> \(otherAfter)")
    }
    // What was set reads back.
    Property.check(patched.rootPath == rootPath && patched.cgroupsPath == plan.cgroupsPath
                       && patched.annotations == plan.annotations,
                   "spec-patch-applied", "root/cgroupsPath/annotations")
    for type in podShareable {
        let entries = patched.namespaces.filter { $0.type == type }
        if let path = plan.joinNamespaces[type] {
            Property.check(patched.namespacePath(type: type) == path, "spec-patch-applied", "join \(type): \(entries)")
        } else if plan.privateNamespaces.contains(type) {
            Property.check(!entries.isEmpty && entries[0].path == nil, "spec-patch-applied", "private \(type): \(entries)")
        } else {
            Property.check(entries.isEmpty, "spec-patch-applied", "dropped \(type): \(entries)")
        }
    }
    if plan.joinNamespaces[OCINamespaceType.uts] != nil {
        Property.check(patched.hostname == nil, "spec-patch-applied", "hostname kept with a joined UTS namespace")
    }
    if let context = plan.lsmMountContext {
        Property.check(patched.mountLabel == context, "spec-patch-applied", "mountLabel")
    }
    // The written spec is the patched one.
    do {
        let reread = try OCISpec(data: try patched.data(), context: "config.json")
        Property.check(reread == patched, "json-roundtrip", "patched spec does not survive data() -> init(data:)")
    } catch {
        Property.check(false, "json-roundtrip", "patched spec: \(error)")
    }
}

func namespaceEntries(_ spec: OCISpec) -> [JSONValue] {
    spec.json.value(atPath: ["linux", "namespaces"])?.arrayValue ?? []
}

/// Members of an object other than `except` are unchanged (when it was an object).
func unchanged(_ before: JSONValue?, _ after: JSONValue?, except: Set<String>, _ name: String) {
    guard let old = before?.objectValue else { return }
    let new = after?.objectValue ?? [:]
    for (key, value) in old where !except.contains(key) {
        Property.check(new[key] == value, "spec-patch-lossless", "\(name).\(key) changed")
    }
}

// MARK: - Restore policy

let allowedBindSource = "/var/lib/crpod-binds"
let containerDirectory = "/var/lib/crpod/containers/0123abcd"

func policy(_ spec: OCISpec) {
    let strict = RestorePolicy(allowedRootfs: ["/var/lib/crpod/rootfs"], allowedBindSources: [allowedBindSource])
    let violations = strict.violations(spec: spec, rootfs: spec.rootPath ?? "/var/lib/crpod/rootfs/base", containerDirectory: containerDirectory)
    let open = RestorePolicy(allowPrivileged: true)
    _ = open.violations(spec: spec, rootfs: "/", containerDirectory: containerDirectory)
    // Bind sources outside the allowed directories, resolved lexically over bytes.
    for mount in spec.json["mounts"]?.arrayValue ?? [] {
        guard mount["type"]?.stringValue == "bind", let source = mount["source"]?.stringValue else { continue }
        let resolved = lexicallyResolved(source)
        let inside = [allowedBindSource, containerDirectory].contains { base in
            resolved == Array(base.utf8) || resolved.hasPrefix(Array(base.utf8) + [0x2F])
        }
        if !inside {
            Property.check(violations.contains { $0.contains("bind mount") }, "policy-bind-source",
                           "bind source \(Array(source.utf8)) resolves to \(String(decoding: resolved, as: UTF8.self)) but is allowed")
        }
    }
    // runc's reading of linux.resources.devices: a missing or null type is "a", a missing or
    // null major/minor is the wildcard (specconv: `if d.Major != nil { major = *d.Major }`).
    for rule in spec.json.value(atPath: ["linux", "resources", "devices"])?.arrayValue ?? [] {
        guard rule["allow"]?.boolValue == true else { continue }
        let type = rule["type"]?.stringValue ?? "a"
        let wildcard = (rule["major"] ?? .null).isNull && (rule["minor"] ?? .null).isNull
        if (type == "a" || type.isEmpty), wildcard {
            Property.check(violations.contains { $0.contains("all devices") }, "policy-devices",
                           "device rule \(rule) allows every device but is allowed")
        }
    }
}

extension Array where Element == UInt8 {
    func hasPrefix(_ prefix: [UInt8]) -> Bool { count >= prefix.count && Array(self[0..<prefix.count]) == prefix }
}

/// `path` with "." and ".." components applied, over bytes (as the kernel splits on '/').
/// A relative path is resolved against "/" (runc would resolve it elsewhere: never inside).
func lexicallyResolved(_ path: String) -> [UInt8] {
    var parts: [[UInt8]] = []
    for component in Array(path.utf8).split(separator: 0x2F, omittingEmptySubsequences: true) {
        switch Array(component) {
        case [0x2E]: continue
        case [0x2E, 0x2E]: if !parts.isEmpty { parts.removeLast() }
        default: parts.append(Array(component))
        }
    }
    if !path.utf8.starts(with: [0x2F]) { return Array("relative:".utf8) + Array(path.utf8) }
    return [0x2F] + Array(parts.joined(separator: [0x2F]))
}
