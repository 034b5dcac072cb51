import CrpodCore
import Foundation
import Testing

@Suite("restore policy")
struct RestorePolicyTests {
    func spec(_ json: String) throws -> OCISpec { try OCISpec(data: Data(json.utf8), context: "spec.dump") }

    let clean = """
    {"ociVersion":"1.0.2","process":{"args":["sh"],"capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_CHOWN"]}},
     "root":{"path":"/r"},"mounts":[{"destination":"/proc","type":"proc","source":"proc"},
     {"destination":"/etc/hosts","type":"bind","source":"/var/lib/crpod/containers/abc/mounts/0-etc_hosts","options":["rbind"]}],
     "linux":{"namespaces":[{"type":"mount"}]}}
    """

    @Test func aCleanSpecPasses() throws {
        let policy = RestorePolicy(allowedRootfs: ["/var/lib/rootfs"])
        #expect(policy.violations(spec: try spec(clean), rootfs: "/var/lib/rootfs/busybox", containerDirectory: "/var/lib/crpod/containers/abc").isEmpty)
    }

    @Test func everyViolationIsListed() throws {
        let hostile = """
        {"process":{"capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_CHOWN"],"ambient":["CAP_NET_ADMIN"]}},
         "mounts":[{"destination":"/host","type":"none","source":"/etc","options":["bind"]},
                   {"destination":"/x","type":"bind","source":"/var/lib/crpod/containers/abc/../../../../etc"}],
         "linux":{"devices":[{"path":"/dev/sda","type":"b","major":8,"minor":0}],"resources":{"devices":[{"allow":true,"access":"rwm"}]}},
         "annotations":{"cdi.k8s.io/gpu":"nvidia.com/gpu=all","io.kubernetes.cri-o.Devices":"/dev/sda"}}
        """
        let problems = RestorePolicy(allowedRootfs: ["/var/lib/rootfs"]).violations(spec: try spec(hostile), rootfs: "/var/lib/rootfs2/x", containerDirectory: "/var/lib/crpod/containers/abc")
        #expect(problems.count == 8, "\(problems)")
        #expect(problems[0].contains("rootfs /var/lib/rootfs2/x is outside"))
        #expect(problems.contains { $0.contains("host path /etc is outside") })
        #expect(problems.contains { $0.contains("abc/../../../../etc is outside") }, "`..` never counts as inside")
        #expect(problems.contains { $0.contains("adds capabilities CAP_NET_ADMIN, CAP_SYS_ADMIN") })
        #expect(problems.contains { $0.contains("creates device /dev/sda") })
        #expect(problems.contains { $0.contains("allows access to all devices") })
        #expect(problems.contains { $0.contains("annotation cdi.k8s.io/gpu") } && problems.contains { $0.contains("annotation io.kubernetes.cri-o.Devices") })
    }

    @Test func allowancesOpenOnlyWhatTheyName() throws {
        let json = """
        {"process":{"capabilities":{"bounding":["CAP_NET_ADMIN","CAP_SYS_ADMIN"]}},
         "mounts":[{"destination":"/data","type":"bind","source":"/srv/data/app"},{"destination":"/data2","type":"bind","source":"/srv/database"}]}
        """
        let policy = RestorePolicy(allowedBindSources: ["/srv/data/"], allowedExtraCapabilities: ["CAP_NET_ADMIN"])
        let problems = policy.violations(spec: try spec(json), rootfs: "/r", containerDirectory: "/c")
        #expect(problems == [
            "bind mount of host path /srv/database is outside the allowed bind-mount sources (/srv/data/)",
            "the spec adds capabilities CAP_SYS_ADMIN (not allowed)",
        ])
        var privileged = policy
        privileged.allowPrivileged = true
        #expect(privileged.violations(spec: try spec(json), rootfs: "/r", containerDirectory: "/c").count == 1)
    }

    @Test func thePodsShmIsAllowedOnlyAtDevShm() throws {
        let shm = "/run/crpod/pods/p1/shm-fs/shm"
        let json = """
        {"mounts":[{"destination":"/dev/shm","type":"bind","source":"\(shm)","options":["bind"]},
                   {"destination":"/etc/x","type":"bind","source":"\(shm)"},
                   {"destination":"/dev//shm/","options":["rbind"],"source":"/run/crpod/pods/p2/shm-fs/shm"}]}
        """
        let problems = RestorePolicy().violations(spec: try spec(json), rootfs: "/r", containerDirectory: "/c", podShmDirectory: shm)
        #expect(problems == [
            "bind mount of host path \(shm) is outside the allowed bind-mount sources (none allowed)",
            "bind mount of host path /run/crpod/pods/p2/shm-fs/shm is outside the allowed bind-mount sources (none allowed)",
        ], "the target pod's shm at /dev/shm only; another pod's shm nowhere")
        #expect(RestorePolicy().violations(spec: try spec(json), rootfs: "/r", containerDirectory: "/c").count == 3, "without a pod shm every bind counts")
    }

    @Test func hooksAndForeignNamespacesAreNeverAllowed() throws {
        let json = """
        {"hooks":{"prestart":[{"path":"/bin/sh"}]},"linux":{"namespaces":[{"type":"mount","path":"/proc/1/ns/mnt"},{"type":"network","path":"/proc/9/ns/net"}]}}
        """
        var policy = RestorePolicy()
        policy.allowPrivileged = true
        let problems = policy.violations(spec: try spec(json), rootfs: "/r", containerDirectory: "/c")
        #expect(problems == ["the spec has OCI hooks (prestart), which run on the host (never allowed)",
                             "the spec joins the mount namespace at /proc/1/ns/mnt (never allowed)"])
    }

    @Test func runNeedsAListedRootfsAndTheDefaultSeccompProfile() {
        var daemon = RestorePolicy()
        daemon.rootfsMustBeListed = true
        #expect(daemon.runViolations(rootfs: "/", seccomp: .defaultProfile)
                == ["base rootfs / is not allowed: no allow_rootfs directories are configured"], "an empty allow list allows nothing")
        daemon.allowedRootfs = ["/var/lib/rootfs"]
        #expect(daemon.runViolations(rootfs: "/var/lib/rootfs/busybox", seccomp: .defaultProfile).isEmpty)
        #expect(daemon.runViolations(rootfs: "/", seccomp: .defaultProfile).first?.contains("rootfs / is outside the allowed rootfs directories") == true)
        let unconfined = daemon.runViolations(rootfs: "/var/lib/rootfs/busybox", seccomp: .unconfined)
        #expect(unconfined.count == 1 && unconfined[0].contains("no seccomp filter (unconfined)"))
        #expect(daemon.runViolations(rootfs: "/var/lib/rootfs/b", seccomp: .profile(["defaultAction": "SCMP_ACT_ALLOW"], source: "x"))
                .first?.contains("a custom seccomp profile") == true)
        daemon.allowPrivileged = true
        #expect(daemon.runViolations(rootfs: "/var/lib/rootfs/busybox", seccomp: .unconfined).isEmpty)
        #expect(RestorePolicy().runViolations(rootfs: "/", seccomp: .unconfined).isEmpty == false, "seccomp is privileged even for an open rootfs list")
        #expect(RestorePolicy(allowPrivileged: true).runViolations(rootfs: "/", seccomp: .unconfined).isEmpty, "the root CLI's open policy")
    }
}
