import CrpodLinux
import Testing

/// Builds hostile archives on the fly from a real crpod checkpoint (no committed blobs):
/// Python's tarfile writes what tar(1) refuses to (`../` names, links, devices), then the
/// crpod manifest is recomputed for the members that changed — so the archive passes every
/// check except the one under test.
extension CrpodInstance {
    func hostileArchive(from archive: String, case name: String) async throws -> String {
        let plain = base + "/source.tar"
        try await decompressOnce(archive, to: plain)
        let output = base + "/hostile-\(name).tar" + (name == "bomb" ? ".zst" : "")
        _ = try await runPython("hostile.py", hostileArchivePython, [plain, output, name, base])
        return output
    }
}

let hostileArchivePython = #"""
import hashlib, io, json, subprocess, sys, tarfile

src, dst, case, base = sys.argv[1:5]
members = []  # (TarInfo, bytes or None)
with tarfile.open(src) as tar:
    for info in tar.getmembers():
        data = tar.extractfile(info).read() if info.isfile() else None
        members.append((info, data))

def get(name):
    return next(d for i, d in members if i.name == name)

def put(name, data, mode=0o600):
    for k, (i, d) in enumerate(members):
        if i.name == name:
            i.size = len(data); members[k] = (i, data); return
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode
    members.insert(len(members) - 1, (i, data))

def drop(name):
    members[:] = [(i, d) for i, d in members if i.name != name]

def add(info, data=None):
    members.insert(len(members) - 1, (info, data))

def link(name, kind, target):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; return i

def spec_edit(fn):
    spec = json.loads(get("spec.dump")); fn(spec); put("spec.dump", json.dumps(spec).encode())

def rootfs(extra):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in extra:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    put("rootfs-diff.tar", buf.getvalue())

def file_info(name, data, mode=0o644):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; return (i, data)

def device(name, kind=tarfile.CHRTYPE):
    i = tarfile.TarInfo(name); i.type = kind; i.devmajor = 1; i.devminor = 3; return (i, None)

def fix_manifest():
    manifest = json.loads(get("crpod-manifest.json"))
    entries = []
    for i, d in members:
        if i.isfile() and d is not None and i.name != "crpod-manifest.json":
            entries.append({"name": i.name, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()})
    manifest["members"] = sorted(entries, key=lambda e: e["name"])
    put("crpod-manifest.json", json.dumps(manifest).encode())

escape = base + "/escaped"
keep_manifest = False
if case == "outer-dotdot": add(*file_info("../escaped", b"x"))
elif case == "outer-absolute": add(*file_info(escape, b"x"))
elif case == "outer-symlink": add(link("evil", tarfile.SYMTYPE, base)); add(*file_info("evil/escaped", b"x"))
elif case == "outer-hardlink": add(link("evil", tarfile.LNKTYPE, "/etc/passwd"))
elif case == "outer-device": add(*device("checkpoint/null"))
elif case == "outer-fifo": add(*device("fifo", tarfile.FIFOTYPE))
elif case == "outer-long-name": add(*file_info("a" * 70000, b"x"))
elif case == "rootfs-dotdot": rootfs([file_info("../../../../escaped", b"x")])
elif case == "rootfs-absolute": rootfs([file_info(escape, b"x")])
elif case == "rootfs-symlink": rootfs([(link("etc2", tarfile.SYMTYPE, base), None), file_info("etc2/escaped", b"x")])
elif case == "rootfs-hardlink": rootfs([(link("pw", tarfile.LNKTYPE, "/etc/passwd"), None)])
elif case == "rootfs-device": rootfs([device("dev-null")])
elif case == "rootfs-setuid": rootfs([file_info("suid-file", b"#!/bin/sh\n", 0o6755)])
elif case == "deleted-outside": put("deleted.files", json.dumps(["../../../../" + base.lstrip("/") + "/canary", base + "/canary"]).encode())
elif case == "manifest-mismatch": put("spec.dump", get("spec.dump") + b" "); keep_manifest = True
elif case == "config-malformed": put("config.dump", b"{not json")
elif case == "config-deep": put("config.dump", b"[" * 200000 + b"]" * 200000)
elif case == "spec-oversized": put("spec.dump", json.dumps({"x": "y" * (9 << 20)}).encode())
elif case == "missing-inventory": drop("checkpoint/inventory.img")
elif case == "spec-hooks": spec_edit(lambda s: s.__setitem__("hooks", {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "touch " + base + "/hooked"]}], "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "touch " + base + "/hooked"]}]}))
elif case == "spec-host-mountns": spec_edit(lambda s: s["linux"]["namespaces"].__setitem__(0, {"type": "mount", "path": "/proc/1/ns/mnt"}) if s["linux"]["namespaces"][0]["type"] == "mount" else s["linux"]["namespaces"].append({"type": "mount", "path": "/proc/1/ns/mnt"}))
elif case == "policy-host-rootfs":
    cfg = json.loads(get("config.dump")); cfg["rootfs"] = "/"
    if isinstance(cfg.get("crpod"), dict): cfg["crpod"]["rootfs"] = "/"
    put("config.dump", json.dumps(cfg).encode())
elif case == "config-id-traversal":
    cfg = json.loads(get("config.dump")); cfg["id"] = "../../../../" + base.lstrip("/") + "/escaped"; put("config.dump", json.dumps(cfg).encode())
elif case == "policy-bind": spec_edit(lambda s: s["mounts"].append({"destination": "/host-etc", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]}))
elif case == "policy-caps":
    def caps(s):
        for k in ("bounding", "effective", "permitted"): s["process"]["capabilities"][k].append("CAP_SYS_ADMIN")
    spec_edit(caps)
elif case == "policy-device": spec_edit(lambda s: s["linux"].__setitem__("devices", [{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}]))
elif case == "policy-annotation": spec_edit(lambda s: s.setdefault("annotations", {}).__setitem__("io.kubernetes.cri-o.Devices", "/dev/sda:/dev/sda:rwm"))
elif case == "policy-all-devices": spec_edit(lambda s: s["linux"].setdefault("resources", {}).__setitem__("devices", [{"allow": True, "access": "rwm"}]))
elif case in ("bomb", "truncated", "header-corrupt", "identity"): keep_manifest = case != "bomb"
else: sys.exit("unknown case " + case)
if case == "bomb":
    class Zeros(io.RawIOBase):
        def __init__(self, n): self.n = n
        def readinto(self, b):
            k = min(len(b), self.n); b[:k] = bytes(k); self.n -= k; return k
    info = tarfile.TarInfo("checkpoint/pages-99.img"); info.size = 1 << 30
    members.insert(len(members) - 1, (info, None))
if not keep_manifest: fix_manifest()

out = io.BytesIO() if case != "bomb" else None
proc = subprocess.Popen(["zstd", "-q", "-1", "-f", "-o", dst], stdin=subprocess.PIPE) if case == "bomb" else None
with tarfile.open(fileobj=proc.stdin if proc else out, mode="w|" if proc else "w", format=tarfile.PAX_FORMAT) as tar:
    for info, data in members:
        if case == "bomb" and info.name == "checkpoint/pages-99.img": tar.addfile(info, Zeros(info.size)); continue
        tar.addfile(info, io.BytesIO(data) if data is not None else None)
if proc:
    proc.stdin.close(); sys.exit(proc.wait())
raw = bytearray(out.getvalue())
if case == "truncated": raw = raw[: len(raw) // 2]
if case == "header-corrupt": raw[0:8] = b"\xff" * 8
open(dst, "wb").write(raw)
"""#
