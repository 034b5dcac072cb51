/// Path components split on the "/" byte. Never split paths on Characters: "/" followed by a
/// combining mark is one grapheme cluster, which would hide a separator (and a ".." next to
/// it) from a Character-wise split while the kernel still sees it (found by fuzzing).
public enum PathText {
    public static func components(_ path: some StringProtocol, omittingEmpty: Bool = true) -> [Substring] {
        Substring(path).utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: omittingEmpty).map { Substring($0) }
    }

    /// Whether the path has a ".." component.
    public static func hasDotDot(_ path: some StringProtocol) -> Bool {
        components(path).contains { $0.utf8.elementsEqual("..".utf8) }
    }

    /// Whether the path starts with the "/" byte.
    public static func isAbsolute(_ path: some StringProtocol) -> Bool { path.utf8.first == UInt8(ascii: "/") }

    /// `path` is `base` or below it, compared byte-wise by whole components.
    public static func isUnder(_ path: some StringProtocol, _ base: some StringProtocol) -> Bool {
        let want = components(base), got = components(path)
        return got.count >= want.count && zip(want, got).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }
}
