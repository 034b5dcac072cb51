/// The `--share` list of namespaces a pod shares with its containers. Names are the
/// /proc ones (`net`, not `network`), as podman spells them; both lists come from
/// `NamespaceKind.table`.
public enum ShareList {
    public static let podDefault = NamespaceKind.podDefault.map(\.rawValue)
    /// Every shareable name, in canonical order: the pod default first, then the others.
    public static let allowed = podDefault + NamespaceKind.podShareable.map(\.rawValue).filter { !podDefault.contains($0) }

    /// Parses a comma-separated list ("ipc, net,uts"). "" and "none" give []. Rejects
    /// unknown names, duplicates and empty items; the result is in canonical order.
    public static func parse(_ text: String) throws -> [String] {
        let trimmed = text.trimmingSpaces()
        if trimmed.isEmpty || trimmed == "none" { return [] }
        var seen: Set<String> = []
        for rawItem in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let item = rawItem.trimmingSpaces()
            try check(item, seen: seen, in: text)
            seen.insert(item)
        }
        return allowed.filter(seen.contains)
    }

    /// The OCI namespace type for a share name (`net` → `network`); others are the same.
    public static func ociType(forShareName name: String) -> String {
        NamespaceKind(rawValue: name).ociType
    }

    private static func check(_ item: String, seen: Set<String>, in text: String) throws {
        if item.isEmpty {
            throw CoreError.invalidShareList(text, reason: "empty item")
        }
        if item == "none" {
            throw CoreError.invalidShareList(text, reason: "\"none\" cannot be combined with other namespaces")
        }
        guard allowed.contains(item) else {
            throw CoreError.invalidShareList(
                text, reason: "unknown namespace \(quoted(item)) (allowed: \(allowed.joined(separator: ", ")))")
        }
        guard !seen.contains(item) else {
            throw CoreError.invalidShareList(text, reason: "\(quoted(item)) listed twice")
        }
    }
}
