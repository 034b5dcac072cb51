import CrpodLinux
import Testing

/// Hostile whole-pod archives, made on the fly from a real one: `pod restore` refuses each
/// with the reason and leaves nothing (no pod, member, directory, cgroup or mount).
@Suite("hostile whole-pod archives", .serialized, .enabled(if: PrivilegedHost.enabled, "needs root, runc, criu and the test rootfs"))
struct HostilePodArchiveTests {
    static let cases: [(name: String, message: String)] = [
        ("member-digest", "the manifest says"),
        ("member-dotdot", "lists a member with an invalid name: \"../x\""),
        ("extra-directory", "members/ghost is not a member pod.json lists"),
        ("member-config-missing", "member b: the archive has no config.dump"),
        ("member-escaping-link", "\"members/a/checkpoint/evil\" is a symbolic link, which is not extracted"),
        ("network-status", "network.status: network \"crpod\" interface \"eth0\": invalid mac_address \"zz\""),
    ]

    @Test("each hostile pod archive is refused with its reason, leaving nothing", arguments: cases.map(\.name))
    func refused(name: String) async throws {
        try await withCrpod { crpod in
            let (archive, _) = try await crpod.checkpointedCounterPod("pa")
            let plain = crpod.base + "/source.tar"
            try await crpod.decompressOnce(archive, to: plain)
            let hostile = crpod.base + "/hostile-\(name).tar"
            _ = try await crpod.runPython("hostile-pod.py", hostilePodArchivePython, [plain, hostile, name])
            let message = try #require(Self.cases.first { $0.name == name }?.message)
            try await crpod.expectRefusal(["pod", "restore", "--import", hostile], message, archive: hostile)
            #expect(try await crpod.ok(["pod", "ls", "-q"]) == "", "no pod")
        }
    }
}

/// Rewrites a plain pod archive: one defect per case, the root manifest recomputed unless
/// the case is about it.
let hostilePodArchivePython = #"""
import hashlib, json, sys, tarfile

src, dst, case = sys.argv[1:4]
with tarfile.open(src) as tar:
    members = [(i, tar.extractfile(i).read() if i.isfile() else None) for i in tar.getmembers()]

def get(name):
    return next(d for i, d in members if i.name == name)

def put(name, data):
    for k, (i, d) in enumerate(members):
        if i.name == name:
            i.size = len(data); members[k] = (i, data); return
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o600
    members.insert(len(members) - 1, (i, data))

fix = True
if case == "member-digest":
    put("members/a/config.dump", get("members/a/config.dump").replace(b"{", b"{ ", 1)); fix = False
    manifest = json.loads(get("crpod-manifest.json"))
    for e in manifest["members"]:
        if e["name"] == "members/a/config.dump": e["size"] = len(get("members/a/config.dump"))
    put("crpod-manifest.json", json.dumps(manifest).encode())
elif case == "member-dotdot":
    pod = json.loads(get("pod.json")); pod["members"].append({"name": "../x", "id": "0" * 64}); put("pod.json", json.dumps(pod).encode())
elif case == "extra-directory":
    put("members/ghost/config.dump", get("members/a/config.dump"))
elif case == "member-config-missing":
    members[:] = [(i, d) for i, d in members if i.name != "members/b/config.dump"]
elif case == "network-status":
    put("network.status", json.dumps({"crpod": {"interfaces": {"eth0": {"mac_address": "zz"}}}}).encode())
elif case == "member-escaping-link":
    i = tarfile.TarInfo("members/a/checkpoint/evil"); i.type = tarfile.SYMTYPE; i.linkname = "../../../../etc"
    members.insert(len(members) - 1, (i, None))
if fix:
    manifest = json.loads(get("crpod-manifest.json"))
    manifest["members"] = sorted(({"name": i.name, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                                  for i, d in members if i.isfile() and i.name != "crpod-manifest.json"), key=lambda e: e["name"])
    put("crpod-manifest.json", json.dumps(manifest).encode())
with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as out:
    for i, d in members:
        out.addfile(i, None if d is None else __import__("io").BytesIO(d))
"""#
