// fuzz-images: the decoders of the images that carry a task's privileges (core-<tid>.img with
// its creds and seccomp fields, mountpoints-<id>.img, seccomp.img, userns-<id>.img), the cBPF
// interpreter on every decoded filter chain, and the image rule (RestoredPrivilegeRule) on
// what decoded, against a fixed spec with a non-root user, a seccomp profile, masked and
// read-only paths.
//
// The first input byte picks the image the rest is (with its magic words prepended, so
// mutations are not wasted on them); the raw input is also tried as every image.
//
// Properties: seccomp-chain (a chain is nil or at most as long as the filter list, and the
// interpreter ends on each of its programs with a value or an Invalid), rule-deterministic
// (the same facts give the same problems), rule-no-caps (with every capability set of every
// thread emptied, no capability problem remains).
import CrpodCore
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let body = Array(bytes.dropFirst())
    var facts = RestoredImageFacts(threads: [])
    decodeAll(bytes, into: &facts)
    let magic: [UInt32] = [CRIUMagic.core, CRIUMagic.mountpoints, CRIUMagic.seccomp, CRIUMagic.userns]
    decodeAll(word(CRIUMagic.common) + word(magic[Int(selector) % magic.count]) + body, into: &facts)
    checkRule(facts)
    return 0
}

func word(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
}

func decodeAll(_ image: [UInt8], into facts: inout RestoredImageFacts) {
    if let core = try? CRIUThreadCore.decode(image, image: "core-1.img") {
        facts.threads.append(RestoredThread(pid: 1, tid: Int32(facts.threads.count + 1), core: core))
    }
    if let mounts = try? CRIUMountpoints.decode(image, image: "mountpoints-1.img") {
        facts.mountNamespaces.append(RestoredMountNamespace(image: "mountpoints-1.img", mounts: mounts))
    }
    if let seccomp = try? CRIUSeccomp.decode(image) {
        facts.seccomp = seccomp
        checkChains(seccomp)
    }
    if let userns = try? CRIUUserNamespace.decode(image, image: "userns-1.img") { facts.userNamespaces["userns-1.img"] = userns }
}

func checkChains(_ seccomp: CRIUSeccomp) {
    for index in 0..<UInt32(min(seccomp.filters.count + 1, 8)) {
        guard let chain = seccomp.chain(from: index) else { continue }
        Property.check(chain.count <= seccomp.filters.count, "seccomp-chain", "chain of \(chain.count) from \(seccomp.filters.count) filters")
        for number in [0, 165, 175, 1 << 30] {
            _ = try? SeccompBPF.run(chain: chain, on: .init(nr: Int32(number)))
        }
    }
}

let spec: OCISpec? = try? OCISpec(json: .object([
    "process": .object([
        "user": .object(["uid": .int(1000), "gid": .int(1000), "additionalGids": .array([.int(5)])]),
        "noNewPrivileges": .bool(true),
        "capabilities": .object(["bounding": .array([.string("CAP_CHOWN"), .string("CAP_KILL")]), "effective": .array([.string("CAP_KILL")])]),
        "rlimits": .array([.object(["type": .string("RLIMIT_NOFILE"), "hard": .int(1024), "soft": .int(1024)])]),
    ]),
    "mounts": .array([
        .object(["destination": .string("/proc"), "type": .string("proc"), "source": .string("proc")]),
        .object(["destination": .string("/sys"), "type": .string("sysfs"), "source": .string("sysfs"), "options": .array([.string("ro")])]),
        .object(["destination": .string("/etc/hosts"), "type": .string("bind"), "source": .string("/srv/hosts"), "options": .array([.string("ro")])]),
        .object(["destination": .string("/sys/fs/cgroup"), "type": .string("cgroup"), "source": .string("cgroup"), "options": .array([.string("ro")])]),
    ]),
    "linux": .object([
        "maskedPaths": .array([.string("/proc/keys"), .string("/sys/firmware")]),
        "readonlyPaths": .array([.string("/proc/sys"), .string("/proc/bus")]),
        // Default allow with a short deny list: few syscalls to evaluate keeps the target fast.
        "seccomp": .object(["defaultAction": .string("SCMP_ACT_ALLOW"), "syscalls": .array([
            .object(["names": .array(["mount", "init_module", "kexec_load", "ptrace", "bpf"].map(JSONValue.string)), "action": .string("SCMP_ACT_ERRNO")]),
        ])]),
    ]),
]))

func checkRule(_ facts: RestoredImageFacts) {
    guard let spec else { return }
    let host = ImageRuleHost(absentPaths: ["/proc/bus"])
    let problems = RestoredPrivilegeRule.problems(facts, spec: spec, host: host)
    Property.check(problems == RestoredPrivilegeRule.problems(facts, spec: spec, host: host), "rule-deterministic")
    var stripped = facts
    for index in stripped.threads.indices {
        for path in [\CRIUCredentials.capInh, \.capPrm, \.capEff, \.capBnd, \.capAmb] {
            stripped.threads[index].core.credentials?[keyPath: path] = []
        }
    }
    let left = RestoredPrivilegeRule.problems(stripped, spec: spec, host: host).filter { $0.contains(": cap_") }
    Property.check(left.isEmpty, "rule-no-caps", "\(left)")
}
