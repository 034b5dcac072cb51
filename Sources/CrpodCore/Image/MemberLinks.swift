/// Symbolic links among an image source's members. containers/image (podman 4.3.1's `podman
/// save`, docker-archive) writes each layer once and links `<id>/layer.tar` to it with a
/// relative symlink; docker's legacy `docker save` links a layer shared by two images the same
/// way. A member named by manifest.json (or index.json, a config, a layer) is found by following
/// such links inside the source, never out of it: relative targets only, `..` never above the
/// top, at most `maxHops` links. Pure: the caller says what each name links to.
public enum MemberLinks {
    /// Links followed for one member before it is refused as a loop.
    public static let maxHops = 8

    /// `member` (a plain relative name, see `ImageSelection.dockerMember`) with every symbolic
    /// link on its way replaced by its target, resolved like the kernel does (a `..` after a link
    /// is taken from the link's target); `linkTarget` returns a name's target, or nil when the
    /// name is not a symbolic link. Refused, naming the member and the link: an absolute or empty
    /// target, a `..` above the source's top, more than `maxHops` links, the top itself.
    public static func resolve(_ member: String, source: String, linkTarget: (String) -> String?) throws(CoreError) -> String {
        var pending = Array(member.split(separator: "/").reversed())  // a stack: the next component last
        var resolved: [Substring] = []
        var followed: [(link: String, target: String)] = []
        func refused(_ why: String) -> CoreError {
            let via: String
            if followed.count == 1, followed[0].link == member {
                via = " is a symbolic link to \(followed[0].target.debugDescription),"
            } else {
                via = followed.isEmpty ? "" : " leads through the symbolic links " + followed.map { "\($0.link.debugDescription) -> \($0.target.debugDescription)" }.joined(separator: ", ") + ","
            }
            return .invalidImage(source: source, reason: "member \(member.debugDescription)\(via) \(why)")
        }
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                guard resolved.popLast() != nil else { throw refused("which leads out of the image source (only links inside it are followed)") }
                continue
            }
            let name = (resolved + [component]).joined(separator: "/")
            guard let target = linkTarget(name) else {
                resolved.append(component)
                continue
            }
            followed.append((name, target))
            guard followed.count <= maxHops else { throw refused("more than \(maxHops) links deep (a loop?)") }
            guard !target.hasPrefix("/") else { throw refused("an absolute path (only relative links inside the image source are followed)") }
            guard !target.isEmpty, !target.utf8.contains(0) else { throw refused("not a usable link target") }
            pending.append(contentsOf: target.split(separator: "/").reversed())
        }
        guard !resolved.isEmpty else { throw refused("which names the image source's top directory, not a file") }
        return resolved.joined(separator: "/")
    }
}
