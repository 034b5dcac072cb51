/// The member names of a checkpoint archive, as podman 4 writes them (checkpointctl's
/// `metadata` names) plus crpod's manifest. Defined once; everything else refers here.
public enum CheckpointMember {
    public static let config = "config.dump"
    public static let spec = "spec.dump"
    public static let checkpointDirectory = "checkpoint"
    public static let inventory = "checkpoint/inventory.img"
    public static let descriptors = "checkpoint/descriptors.json"
    public static let dumpLog = "checkpoint/dump.log"
    public static let rootfsDiff = "rootfs-diff.tar"
    public static let deletedFiles = "deleted.files"
    public static let devShm = "devshm-checkpoint.tar"
    public static let networkStatus = "network.status"
    public static let statsDump = "stats-dump"
    public static let containerLog = "ctr.log"
    public static let artifactsDirectory = "artifacts"
    /// crpod's own index of every regular file, written as the last member.
    public static let manifest = "crpod-manifest.json"

    /// Members every archive must hold, whoever wrote it.
    public static let required = [config, spec, inventory]

    /// Longest member name accepted (PATH_MAX).
    public static let maxNameLength = 4096

    /// The name as a path relative to the archive root: a leading `./` and trailing
    /// slashes removed (`./checkpoint/` → `checkpoint`). Does not make a name safe.
    public static func canonical(_ name: String) -> String {
        var bytes = Substring(name).utf8[...]
        while bytes.starts(with: "./".utf8) { bytes = bytes.dropFirst(2) }
        while bytes.count > 1, bytes.last == UInt8(ascii: "/") { bytes = bytes.dropLast() }
        return String(Substring(bytes))
    }

    /// Why `name` cannot be extracted safely, or nil when it can: empty, NUL, too long,
    /// absolute, or with a `..` component.
    public static func unsafeNameReason(_ name: String) -> String? {
        if name.isEmpty { return "the name is empty" }
        if name.utf8.contains(0) { return "the name contains a NUL byte" }
        if name.utf8.count > maxNameLength {
            return "the name is \(name.utf8.count) bytes long (at most \(maxNameLength))"
        }
        if PathText.isAbsolute(name) { return "the name is an absolute path" }
        if PathText.hasDotDot(name) { return "the name has a \"..\" component" }
        return nil
    }

    /// Whether the name stands for the archive root itself (`.` or `./`).
    public static func isRoot(_ name: String) -> Bool {
        let text = canonical(name)
        return text == "." || (text.isEmpty && !name.isEmpty)
    }

    /// Whether a link target leaves the archive root. A symlink's target is resolved from
    /// the directory holding `member`; a hard link's target from the root.
    public static func linkEscapes(member: String, target: String, isHardLink: Bool) -> Bool {
        if target.isEmpty || PathText.isAbsolute(target) { return true }
        var depth = 0
        if !isHardLink {
            depth = PathText.components(canonical(member)).count - 1
        }
        for component in PathText.components(target) {
            if component.utf8.elementsEqual(".".utf8) { continue }
            depth += component.utf8.elementsEqual("..".utf8) ? -1 : 1
            if depth < 0 { return true }
        }
        return false
    }
}
