#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import CrpodCore

/// The image rule on a real crpod checkpoint (CRIUPrivilegeImageFixtures.swift) and its spec,
/// tampered one way at a time as an attacker would edit the images.
struct ImageRuleCase: CustomTestStringConvertible, Sendable {
    let name: String
    /// Words every problem list of this case must contain (CRIU field names, paths, names).
    let expected: [String]
    let tamper: @Sendable (inout RestoredImageFacts, inout JSONValue) -> Void

    var testDescription: String { name }
}

enum ImageRuleBaseline {
    static func facts() throws -> RestoredImageFacts {
        let images = ["pstree.img": realPstreeTwoTasks, "core-1.img": realCoreRootTask, "core-6.img": realCoreRootTask,
                      "mountpoints-14.img": realMountpoints, "seccomp.img": realSeccompEmpty]
        return try RestoredImageFacts.read(imageNames: images.keys.sorted()) { images[$0] }
    }

    static func spec() throws -> JSONValue {
        try JSONValue.parse(Data(realCrpodSpecJSON.utf8), context: "spec")
    }

    static func problems(_ facts: RestoredImageFacts, _ spec: JSONValue) throws -> [String] {
        RestoredPrivilegeRule.problems(facts, spec: try OCISpec(json: spec), host: ImageRuleHost(absentPaths: realAbsentPaths))
    }

    static let sysAdmin: UInt32 = 1 << 21

    /// Adds CAP_SYS_ADMIN to one set of task 1, named by its creds.proto field.
    static func raise(_ field: String) -> @Sendable (inout RestoredImageFacts, inout JSONValue) -> Void {
        { facts, _ in
            let paths: [String: WritableKeyPath<CRIUCredentials, [UInt32]>] = [
                "cap_inh": \.capInh, "cap_prm": \.capPrm, "cap_eff": \.capEff, "cap_bnd": \.capBnd, "cap_amb": \.capAmb,
            ]
            guard let path = paths[field] else { return }
            facts.threads[0].core.credentials?[keyPath: path][0] |= ImageRuleBaseline.sysAdmin
        }
    }

    static func mount(_ facts: inout RestoredImageFacts, at point: String, _ change: (inout CRIUMountEntry) -> Void) {
        guard let index = facts.mountNamespaces[0].mounts.firstIndex(where: { $0.mountpoint == point }) else { return }
        change(&facts.mountNamespaces[0].mounts[index])
    }

    static func added(_ configure: (inout CRIUMountEntry) -> Void) -> CRIUMountEntry {
        var mount = CRIUMountEntry()
        mount.mountID = 500
        mount.parentMountID = 72
        mount.root = "/"
        configure(&mount)
        return mount
    }

    /// A filter that kills other ABIs, returns ERRNO for `denied` x86_64 numbers and ALLOW otherwise.
    static func denyList(_ denied: [Int]) -> [BPFInstruction] {
        var program = [
            BPFInstruction(code: 0x20, k: 4), BPFInstruction(code: 0x15, jt: 1, jf: 0, k: SeccompBPF.auditArchX86_64),
            BPFInstruction(code: 0x06, k: SeccompBPF.retKillProcess), BPFInstruction(code: 0x20, k: 0),
        ]
        for (index, number) in denied.enumerated() {
            program.append(BPFInstruction(code: 0x15, jt: UInt8(denied.count - index), jf: 0, k: UInt32(number)))
        }
        return program + [BPFInstruction(code: 0x06, k: SeccompBPF.retAllow), BPFInstruction(code: 0x06, k: 0x0005_0001)]
    }

    static let profileDenied = ["init_module", "finit_module", "kexec_load", "mount"]

    /// The spec gets a default-allow profile denying `profileDenied`; every thread a filter doing that.
    static func withSeccomp(_ facts: inout RestoredImageFacts, _ spec: inout JSONValue) {
        spec.setValue(.object([
            "defaultAction": .string("SCMP_ACT_ALLOW"),
            "syscalls": .array([.object(["names": .array(profileDenied.map(JSONValue.string)), "action": .string("SCMP_ACT_ERRNO")])]),
        ]), atPath: ["linux", "seccomp"])
        let numbers = profileDenied.compactMap { SyscallTable.x86_64.numbers[$0] }
        facts.seccomp = CRIUSeccomp(filters: [CRIUSeccompFilter(program: denyList(numbers))])
        for index in facts.threads.indices {
            facts.threads[index].core.seccompMode = .filter
            facts.threads[index].core.seccompFilter = 0
        }
    }
}

@Suite("the image rule: restored privilege ≤ the final spec")
struct RestoredPrivilegeRuleTests {
    static let cases: [ImageRuleCase] = [
        .init(name: "cap_inh raised", expected: ["task 1", "cap_inh", "CAP_SYS_ADMIN", "inheritable"], tamper: ImageRuleBaseline.raise("cap_inh")),
        .init(name: "cap_prm raised", expected: ["cap_prm", "CAP_SYS_ADMIN"], tamper: ImageRuleBaseline.raise("cap_prm")),
        .init(name: "cap_eff raised", expected: ["cap_eff", "CAP_SYS_ADMIN", "bounding"], tamper: ImageRuleBaseline.raise("cap_eff")),
        .init(name: "cap_bnd raised", expected: ["cap_bnd", "CAP_SYS_ADMIN"], tamper: ImageRuleBaseline.raise("cap_bnd")),
        .init(name: "cap_amb raised", expected: ["cap_amb", "CAP_SYS_ADMIN", "allowed: none"], tamper: ImageRuleBaseline.raise("cap_amb")),
        .init(name: "no_new_privs cleared", expected: ["task 1", "no_new_privs is 0", "allowed: 1"]) { facts, _ in
            facts.threads[0].core.credentials?.noNewPrivs = 0
        },
        .init(name: "uid 1000 swapped to 0", expected: ["task 1: uid is 0", "euid", "suid", "fsuid", "allowed: 1000"]) { facts, spec in
            spec.setValue(.object(["uid": .int(1000), "gid": .int(1000)]), atPath: ["process", "user"])
            for index in facts.threads.indices {
                facts.threads[index].core.credentials?.gid = 1000
                facts.threads[index].core.credentials?.egid = 1000
                facts.threads[index].core.credentials?.sgid = 1000
                facts.threads[index].core.credentials?.fsgid = 1000
                if index == 1 { facts.threads[index].core.credentials?.uid = 1000 }
                for path in [\CRIUCredentials.euid, \.suid, \.fsuid] where index == 1 { facts.threads[index].core.credentials?[keyPath: path] = 1000 }
            }
        },
        .init(name: "seccomp dropped", expected: ["task 1", "seccomp mode is disabled", "allowed: filter"]) { facts, spec in
            ImageRuleBaseline.withSeccomp(&facts, &spec)
            facts.threads[0].core.seccompMode = .disabled
        },
        .init(name: "seccomp replaced by allow-all", expected: ["seccomp filter allows", "init_module", "kexec_load", "mount"]) { facts, spec in
            ImageRuleBaseline.withSeccomp(&facts, &spec)
            facts.seccomp = CRIUSeccomp(filters: [CRIUSeccompFilter(program: [BPFInstruction(code: 0x06, k: SeccompBPF.retAllow)])])
        },
        .init(name: "seccomp opened for i386 only", expected: ["seccomp filter allows", "mount", "(i386)"]) { facts, spec in
            ImageRuleBaseline.withSeccomp(&facts, &spec)
            let x86_64Only = ImageRuleBaseline.denyList(ImageRuleBaseline.profileDenied.compactMap { SyscallTable.x86_64.numbers[$0] })
            facts.seccomp = CRIUSeccomp(filters: [CRIUSeccompFilter(program: [
                BPFInstruction(code: 0x20, k: 4), BPFInstruction(code: 0x15, jt: 0, jf: 1, k: SyscallTable.i386.auditArch),
                BPFInstruction(code: 0x06, k: SeccompBPF.retAllow),
            ] + x86_64Only)])
        },
        .init(name: "seccomp chain over the kernel's length", expected: ["task 1: seccomp filter chain of", "over the kernel's 32768"]) { facts, spec in
            ImageRuleBaseline.withSeccomp(&facts, &spec)
            let long = [BPFInstruction](repeating: BPFInstruction(code: 0x04, k: 1), count: 4000) + [BPFInstruction(code: 0x06, k: SeccompBPF.retAllow)]
            facts.seccomp = CRIUSeccomp(filters: (0..<9).map { CRIUSeccompFilter(program: long, prev: $0 == 0 ? nil : UInt32($0 - 1)) })
            for index in facts.threads.indices { facts.threads[index].core.seccompFilter = 8 }
        },
        .init(name: "thousands of mounts", expected: ["mounts in the image", "over the 4096"]) { facts, _ in
            facts.mountNamespaces[0].mounts += (0..<4100).map { number in ImageRuleBaseline.added { $0.fstype = 5; $0.mountpoint = "/m\(number)" } }
        },
        .init(name: "/proc/sys read-write", expected: ["/proc/sys", "read-only"]) { facts, _ in
            ImageRuleBaseline.mount(&facts, at: "/proc/sys") { $0.flags &= ~CRIUMountEntry.readOnlyFlag }
        },
        .init(name: "/sys read-write", expected: ["/sys", "read-only"]) { facts, _ in
            ImageRuleBaseline.mount(&facts, at: "/sys") { $0.flags &= ~CRIUMountEntry.readOnlyFlag }
        },
        .init(name: "nosuid and nodev dropped from /dev/shm", expected: ["mount at /dev/shm lacks nosuid, nodev"]) { facts, _ in
            ImageRuleBaseline.mount(&facts, at: "/dev/shm") { $0.flags &= ~0x6 }
        },
        .init(name: "a cgroup hierarchy made writable", expected: ["mount at /sys/fs/cgroup/memory is read-write", "read-only"]) { facts, _ in
            ImageRuleBaseline.mount(&facts, at: "/sys/fs/cgroup/memory") { $0.flags &= ~CRIUMountEntry.readOnlyFlag }
        },
        .init(name: "masked path removed", expected: ["/proc/keys", "masked"]) { facts, _ in
            facts.mountNamespaces[0].mounts.removeAll { $0.mountpoint == "/proc/keys" }
        },
        .init(name: "host directory bind added", expected: ["/mnt/host", "mount", "external bind"]) { facts, _ in
            facts.mountNamespaces[0].mounts.append(ImageRuleBaseline.added { $0.fstype = 0; $0.mountpoint = "/mnt/host"; $0.extKey = "/mnt/host" })
        },
        .init(name: "block-device filesystem added", expected: ["/mnt/disk", "mount", "ext4", "/dev/vda"]) { facts, _ in
            facts.mountNamespaces[0].mounts.append(ImageRuleBaseline.added {
                $0.fstype = 16; $0.fsname = "ext4"; $0.source = "/dev/vda"; $0.mountpoint = "/mnt/disk"
            })
        },
        .init(name: "second sysfs read-write", expected: ["/host-sys", "mount", "sysfs"]) { facts, _ in
            facts.mountNamespaces[0].mounts.append(ImageRuleBaseline.added { $0.fstype = 2; $0.source = "sysfs"; $0.mountpoint = "/host-sys" })
        },
        .init(name: "fresh proc stacked on /proc hides the masks", expected: ["/proc", "stacked", "mount"]) { facts, _ in
            facts.mountNamespaces[0].mounts.append(ImageRuleBaseline.added { $0.fstype = 1; $0.source = "proc"; $0.mountpoint = "/proc" })
        },
        .init(name: "read-only path bound to a block device", expected: ["/proc/bus", "mount", "not a bind"]) { facts, _ in
            ImageRuleBaseline.mount(&facts, at: "/proc/bus") { $0.fstype = 16; $0.fsname = "ext4"; $0.source = "/dev/vda" }
        },
        .init(name: "mount point with ..", expected: ["/sys/fs/cgroup/../../etc", "mount", "not a plain absolute path"]) { facts, _ in
            facts.mountNamespaces[0].mounts.append(ImageRuleBaseline.added {
                $0.fstype = 12; $0.flags = CRIUMountEntry.readOnlyFlag; $0.mountpoint = "/sys/fs/cgroup/../../etc"
            })
        },
        .init(name: "a second namespace root", expected: ["mount at / (", "not in the spec"]) { facts, _ in
            facts.mountNamespaces[0].mounts.insert(ImageRuleBaseline.added {
                $0.fstype = 16; $0.fsname = "ext4"; $0.source = "/dev/vda"; $0.mountpoint = "/"; $0.parentMountID = 9999
            }, at: 0)
        },
        .init(name: "user namespace created", expected: ["userns-9.img", "user namespace"]) { facts, _ in
            facts.userNamespaces["userns-9.img"] = CRIUUserNamespace(uidMap: [CRIUIDExtent(first: 0, lowerFirst: 0, count: 1)])
        },
        .init(name: "rlimit raised", expected: ["rlimits RLIMIT_NOFILE", "allowed: 20000"]) { facts, _ in
            facts.threads[0].core.rlimits[7] = CRIURlimit(cur: 1 << 20, max: 1 << 20)
        },
    ]

    @Test("an untampered crpod checkpoint passes")
    func untamperedPasses() throws {
        #expect(try ImageRuleBaseline.problems(ImageRuleBaseline.facts(), ImageRuleBaseline.spec()) == [])
    }

    @Test("untampered with a seccomp profile and the filter built from it passes")
    func matchingSeccompPasses() throws {
        var facts = try ImageRuleBaseline.facts()
        var spec = try ImageRuleBaseline.spec()
        ImageRuleBaseline.withSeccomp(&facts, &spec)
        #expect(try ImageRuleBaseline.problems(facts, spec) == [])
    }

    @Test("each tampering is refused, naming field and value", arguments: cases)
    func tamperingIsRefused(_ tampering: ImageRuleCase) throws {
        var facts = try ImageRuleBaseline.facts()
        var spec = try ImageRuleBaseline.spec()
        tampering.tamper(&facts, &spec)
        let problems = try ImageRuleBaseline.problems(facts, spec)
        let text = problems.joined(separator: "\n")
        #expect(!problems.isEmpty)
        for word in tampering.expected { #expect(text.contains(word), "\(word) missing in:\n\(text)") }
    }

    @Test("a root task may hold its bounding set in cap_eff and cap_prm; a non-root task may not")
    func rootMayReachBounding() throws {
        var facts = try ImageRuleBaseline.facts()
        var spec = try ImageRuleBaseline.spec()
        spec.setValue(.array([.string("CAP_KILL")]), atPath: ["process", "capabilities", "effective"])
        spec.setValue(.array([.string("CAP_KILL")]), atPath: ["process", "capabilities", "permitted"])
        #expect(try ImageRuleBaseline.problems(facts, spec) == [])
        facts.threads[0].core.credentials?.uid = 1000
        facts.threads[0].core.credentials?.euid = 1000
        let problems = try ImageRuleBaseline.problems(facts, spec)
        #expect(problems.contains { $0.hasPrefix("task 1: cap_eff has CAP_CHOWN") && $0.contains("effective set") })
    }

    @Test("an image LSM profile must be the spec's label, unless crpod hands CRIU one")
    func lsmProfile() throws {
        var facts = try ImageRuleBaseline.facts()
        facts.threads[0].core.credentials?.lsmProfile = "unconfined_u:unconfined_r:unconfined_t:s0"
        let spec = try OCISpec(json: try ImageRuleBaseline.spec())
        let refused = RestoredPrivilegeRule.problems(facts, spec: spec, host: ImageRuleHost(absentPaths: realAbsentPaths))
        #expect(refused.contains { $0.hasPrefix("task 1: lsm_profile is unconfined_u:unconfined_r:unconfined_t:s0") })
        let given = RestoredPrivilegeRule.problems(facts, spec: spec, host: ImageRuleHost(absentPaths: realAbsentPaths, lsmProfileGiven: true))
        #expect(given.isEmpty, "\(given)")
    }

    @Test("every problem is reported at once")
    func allAtOnce() throws {
        var facts = try ImageRuleBaseline.facts()
        var spec = try ImageRuleBaseline.spec()
        for tampering in Self.cases.prefix(6) { tampering.tamper(&facts, &spec) }
        let fields = ["cap_inh", "cap_prm", "cap_eff", "cap_bnd", "cap_amb", "no_new_privs"]
        let problems = try ImageRuleBaseline.problems(facts, spec)
        #expect(fields.allSatisfy { field in problems.contains { $0.contains(field) } }, "\(problems)")
    }
}
