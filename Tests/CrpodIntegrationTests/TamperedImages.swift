#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodLinux
import Testing

/// Tampered checkpoint images, built on the fly from a real crpod checkpoint (no committed blobs):
/// a small Python protobuf codec edits what CRIU restores from `checkpoint/` — credentials in
/// `core-*.img`, seccomp, the mount tree in `mountpoints-*.img` — and regenerates
/// `crpod-manifest.json`, so nothing but a check of the images themselves can tell.
/// Field numbers are CRIU's `images/creds.proto`, `core.proto`, `mnt.proto`.
extension CrpodInstance {
    struct Tampered {
        var path: String
        /// What the builder chose, e.g. `path` (the mount it changed) or `seccomp` (how it dropped it).
        var report: [String: String]
    }

    /// `archive` (a crpod `.tar.zst`) with the images edited as `variant` says, as a plain tar.
    func tamperedArchive(from archive: String, variant: String) async throws -> Tampered {
        let plain = archive + ".plain.tar"
        try await decompressOnce(archive, to: plain)
        let output = base + "/tampered-\(variant).tar"
        let stdout = try await runPython("tamper.py", tamperedImagesPython, [plain, output, variant])
        return Tampered(path: output, report: try JSONDecoder().decode([String: String].self, from: Data(stdout.utf8)))
    }

    /// `archive` decompressed to `plain`, unless an earlier call did it.
    func decompressOnce(_ archive: String, to plain: String) async throws {
        guard !Files.exists(plain) else { return }
        let unpacked = try await runner.run("/usr/bin/zstd", ["-d", "-q", "-f", "-o", plain, archive])
        try #require(unpacked.succeeded, "zstd: \(unpacked.stderr)")
    }

    /// Runs the Python `source` (written once to `<base>/<name>`) with `arguments`; its stdout.
    func runPython(_ name: String, _ source: String, _ arguments: [String]) async throws -> String {
        let script = base + "/" + name
        if !Files.exists(script) { try Files.writeAtomically(script, Array(source.utf8)) }
        let result = try await runner.run("/usr/bin/python3", [script] + arguments)
        try #require(result.succeeded, "\(name) \(arguments.joined(separator: " ")): \(result.stderr)")
        return result.stdout
    }

    /// The SHA-256 of a file, by sha256sum.
    func sha256(_ path: String) async throws -> String {
        let result = try await runner.run("/usr/bin/sha256sum", [path])
        try #require(result.succeeded, "sha256sum: \(result.stderr)")
        return String(result.stdout.prefix { $0 != " " })
    }
}

/// The `Key:` line of /proc/<pid>/status, e.g. `CapEff` → `000001fffeffffff`.
func procStatus(_ pid: Int32, _ key: String) throws -> String {
    let line = try Files.readText("/proc/\(pid)/status").split(separator: "\n").first { $0.hasPrefix(key + ":") }
    return String(try #require(line).dropFirst(key.count + 1).drop { $0 == "\t" || $0 == " " })
}

/// Whether `text` names `word` on its own, not inside a longer name or path:
/// `uid` is not named by `euid`, `/sys` not by `/proc/sys` or `/sys/fs/cgroup`.
func mentions(_ text: some StringProtocol, _ word: String) -> Bool {
    let continuesName: (Character) -> Bool = { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "/" }
    var from = text.startIndex
    while let range = text[from...].range(of: word) {
        let before = range.lowerBound > text.startIndex ? text[text.index(before: range.lowerBound)] : " "
        let after = range.upperBound < text.endIndex ? text[range.upperBound] : " "
        if !continuesName(before), !continuesName(after) { return true }
        from = range.upperBound
    }
    return false
}

let tamperedImagesPython = #"""
import hashlib, io, json, re, struct, sys, tarfile

src, dst, case = sys.argv[1:4]
COMMON, SERVICE, MS_RDONLY = 0x54564319, 0x55105940, 1

# --- protobuf wire format: a message is a list of [field, wire type, value] in file order ---
def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]; i += 1; value |= (b & 0x7F) << shift; shift += 7
        if b < 0x80: return value, i

def uvarint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n: return bytes(out)

def parse(buf):
    fields, i = [], 0
    while i < len(buf):
        key, i = varint(buf, i); num, wt = key >> 3, key & 7
        if wt == 0: val, i = varint(buf, i)
        elif wt == 2: n, i = varint(buf, i); val = bytes(buf[i:i + n]); i += n
        elif wt in (1, 5): n = 8 if wt == 1 else 4; val = bytes(buf[i:i + n]); i += n
        else: raise ValueError("wire type %d" % wt)
        fields.append([num, wt, val])
    return fields

def emit(fields):
    out = bytearray()
    for num, wt, val in fields:
        out += uvarint(num << 3 | wt)
        out += uvarint(val) if wt == 0 else (uvarint(len(val)) + val if wt == 2 else val)
    return bytes(out)

def get(fields, num, default=None):
    return next((v for n, _, v in fields if n == num), default)

def put(fields, num, vals, wt=0):
    """Replaces every occurrence of field `num` by `vals` (unpacked, as protobuf-c writes proto2), in field order."""
    rest = [f for f in fields if f[0] != num]
    at = next((k for k, f in enumerate(rest) if f[0] > num), len(rest))
    rest[at:at] = [[num, wt, v] for v in vals]
    fields[:] = rest

def edit(fields, num, fn):
    """Edits the embedded message in field `num` in place; an absent one (a zombie's core has
    no thread_core creds) has nothing to edit."""
    value = get(fields, num)
    if value is None: return
    inner = parse(value); fn(inner); put(fields, num, [emit(inner)], 2)

# --- CRIU image framing: magic(s), then (uint32 LE size, message) entries ---
def read_image(data):
    head = 8 if struct.unpack_from("<I", data)[0] in (COMMON, SERVICE) else 4
    entries, i = [], head
    while i < len(data):
        n = struct.unpack_from("<I", data, i)[0]; entries.append(parse(data[i + 4:i + 4 + n])); i += 4 + n
    return data[:head], entries

def write_image(head, entries):
    return head + b"".join(struct.pack("<I", len(e)) + e for e in map(emit, entries))

# --- the archive ---
members = []
with tarfile.open(src) as tar:
    for info in tar.getmembers():
        members.append((info, tar.extractfile(info).read() if info.isfile() else None))
def member(name): return next(d for i, d in members if i.name == name)
def replace(name, data):
    for k, (i, d) in enumerate(members):
        if i.name == name: i.size = len(data); members[k] = (i, data); return
def names(pattern): return [i.name for i, _ in members if re.fullmatch(pattern, i.name)]
def spec_edit(fn):
    spec = json.loads(member("spec.dump")); fn(spec); replace("spec.dump", json.dumps(spec).encode())

def each_creds(fn):
    """Applies fn to core_entry.thread_core(5).creds(10) of every task and thread. A zombie's
    core (a child that exited at the dump) has no creds: it never runs, so it is left alone."""
    for name in names(r"checkpoint/core-\d+\.img"):
        head, entries = read_image(member(name))
        thread = get(entries[0], 5)
        if thread is None or get(parse(thread), 10) is None:
            continue
        edit(entries[0], 5, lambda thread: edit(thread, 10, fn))
        replace(name, write_image(head, entries))

def mounts(fn):
    name = names(r"checkpoint/mountpoints-\d+\.img")[0]
    head, entries = read_image(member(name)); fn(entries); replace(name, write_image(head, entries))

def mount_at(entries, path): return next(e for e in entries if get(e, 7) == path.encode())

def host_capabilities():
    mask = int(re.search(r"CapBnd:\s*([0-9a-f]+)", open("/proc/self/status").read()).group(1), 16)
    return [mask & 0xFFFFFFFF, mask >> 32]

CAP_FIELDS = {"cap_inh": 9, "cap_prm": 10, "cap_eff": 11, "cap_bnd": 12, "cap_amb": 19}
# CRIU restores eff with capset (eff must be within prm) and raises ambient with prctl
# (needs prm and inh): raise what the named set needs so today's CRIU restores it.
CAP_NEEDS = {"cap_eff": ["cap_prm"], "cap_inh": ["cap_bnd"], "cap_amb": ["cap_prm", "cap_inh", "cap_bnd"]}
UIDS, GIDS = (1, 3, 5, 7), (2, 4, 6, 8)
report = {}

def set_ids(uid, gid):
    def fn(creds):
        for f in UIDS: put(creds, f, [uid])
        for f in GIDS: put(creds, f, [gid])
    each_creds(fn)
    spec_edit(lambda s: s["process"].__setitem__("user", {"uid": 1000, "gid": 1000}))

def identity():
    """Decodes and re-encodes every image it could touch, down to creds and mounts; must be lossless."""
    for name in names(r"checkpoint/(core-\d+|mountpoints-\d+|seccomp)\.img"):
        head, entries = read_image(member(name))
        if "core-" in name: edit(entries[0], 3, lambda t: None); edit(entries[0], 5, lambda t: edit(t, 10, lambda c: None))
        again = write_image(head, entries)
        if again != member(name): sys.exit("re-encoding %s changed it" % name)
        replace(name, again)
    report["checked"] = " ".join(names(r"checkpoint/(core-\d+|mountpoints-\d+|seccomp)\.img"))

def drop_seccomp():
    cores = names(r"checkpoint/core-\d+\.img")
    # A zombie's core has no thread_core (no seccomp mode either): skipped, as edit() skips it.
    thread_cores = [get(read_image(member(n))[1][0], 5) for n in cores]
    modes = [get(parse(tc), 11, 0) for tc in thread_cores if tc is not None]
    if any(modes):
        for name in cores:
            head, entries = read_image(member(name))
            edit(entries[0], 5, lambda t: (put(t, 11, []), put(t, 12, [])))
            edit(entries[0], 3, lambda t: (put(t, 11, []), put(t, 12, [])))
            replace(name, write_image(head, entries))
        report["seccomp"] = "removed from the images"
    else:
        profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                   "syscalls": [{"names": ["kexec_load", "open_by_handle_at"], "action": "SCMP_ACT_ERRNO"}]}
        spec_edit(lambda s: s["linux"].__setitem__("seccomp", profile))
        report["seccomp"] = "added to spec.dump only"

def unmask(entries):
    path = next(p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/acpi", "/sys/firmware")
                if any(get(e, 7) == p.encode() for e in entries))
    entries.remove(mount_at(entries, path)); report["path"] = path

def add_rootfs_dir(name):
    """A plain directory added to rootfs-diff.tar: somewhere to mount on (CRIU does not create mountpoints)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(member("rootfs-diff.tar"))) as old, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as new:
        for info in old.getmembers(): new.addfile(info, old.extractfile(info) if info.isfile() else None)
        info = tarfile.TarInfo(name); info.type = tarfile.DIRTYPE; info.mode = 0o755; new.addfile(info)
    replace("rootfs-diff.tar", out.getvalue())

def new_mount(entries, fstype, mountpoint, source, **extra):
    add_rootfs_dir(mountpoint.lstrip("/"))
    root = next(e for e in entries if get(e, 7) == b"/")
    entry = [[1, 0, fstype], [2, 0, max(get(e, 2) for e in entries) + 1], [3, 0, max(get(e, 3) for e in entries) + 1],
             [4, 0, get(root, 2)], [5, 0, 0x200000], [6, 2, b"/"], [7, 2, mountpoint.encode()], [8, 2, source.encode()],
             [9, 2, b""], [10, 0, 0], [11, 0, 0], [17, 0, 0]]
    for num, (wt, val) in extra.items(): put(entry, int(num[1:]), [val], wt)
    entries.insert(0, entry); report["path"] = mountpoint

def writable(path):
    def fn(entries):
        e = mount_at(entries, path)
        for f in (5, 17): put(e, f, [get(e, f, 0) & ~MS_RDONLY])
    return fn

if case == "identity": identity()
elif case in CAP_FIELDS:
    full = host_capabilities()
    def raise_caps(creds):
        for field in [case] + CAP_NEEDS.get(case, []): put(creds, CAP_FIELDS[field], full)
    each_creds(raise_caps)
elif case == "no_new_privs": each_creds(lambda creds: put(creds, 18, [0]))
elif case == "seccomp": drop_seccomp()
elif case == "uid1000": set_ids(1000, 1000)
elif case == "uid0": set_ids(0, 1000)
elif case == "gid0": set_ids(1000, 0)
elif case == "proc-sys-rw": mounts(writable("/proc/sys")); report["path"] = "/proc/sys"
elif case == "sys-rw": mounts(writable("/sys")); report["path"] = "/sys"
elif case == "unmasked": mounts(unmask)
elif case == "new-sysfs": mounts(lambda e: new_mount(e, 2, "/host-sys", "sysfs"))
# The host's /etc as an external bind at /host-etc, keyed by its destination as runc keys the spec's binds.
elif case == "host-bind": mounts(lambda e: new_mount(e, 5, "/host-etc", "/etc", f6=(2, b"/etc"), f18=(2, b"/host-etc")))
# The same with the old ext_mount flag set too: CRIU 4.x hits BUG() on it (and leaves its cgroup yard mounted).
elif case == "host-bind-crash": mounts(lambda e: new_mount(e, 5, "/host-etc", "/etc", f6=(2, b"/etc"), f13=(0, 1), f18=(2, b"/host-etc")))
else: sys.exit("unknown case " + case)

manifest = json.loads(member("crpod-manifest.json"))
manifest["members"] = sorted(({"name": i.name, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                              for i, d in members if i.isfile() and d is not None and i.name != "crpod-manifest.json"),
                             key=lambda e: e["name"])
replace("crpod-manifest.json", json.dumps(manifest).encode())
with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tar:
    for info, data in members: tar.addfile(info, io.BytesIO(data) if data is not None else None)
print(json.dumps(report))
"""#
