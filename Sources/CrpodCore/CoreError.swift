/// The one error type of CrpodCore. Every case carries what went wrong and where, and
/// `description` is a single line suitable for a log or a CLI message.
public enum CoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bytes that should hold JSON could not be parsed. `context` names the source (a path, "runc state").
    case invalidJSON(context: String, detail: String)
    /// A JSON value could not be encoded (a non-finite double, for example).
    case jsonEncodingFailed(detail: String)
    /// A JSON document whose top level (or a required member) had to be an object was not.
    case notAnObject(context: String)
    /// A user-supplied name broke the naming rule; `what` says which name ("pod name").
    case invalidName(String, what: String, reason: String)
    /// A `--share` style namespace list could not be parsed.
    case invalidShareList(String, reason: String)
    /// A container spec request had no process arguments.
    case emptyProcessArgs
    /// A path in a spec request had to be absolute; `field` names the request field.
    case pathNotAbsolute(field: String, path: String)
    /// A namespace type that OCI (and so runc) does not know.
    case unknownNamespaceType(String)
    /// A namespace type that was asked to be both joined and created new.
    case namespaceJoinedAndPrivate(type: String)
    /// A namespace to join had an empty path.
    case emptyNamespacePath(type: String)
    /// A resource limit that runc would reject.
    case invalidRLimit(type: String, reason: String)
    /// A seccomp profile (`--security-opt seccomp=FILE`, the API's `seccomp`) that runc would
    /// reject or crpod cannot apply; `source` names the file or field, `problems` every fault.
    case invalidSeccompProfile(source: String, problems: [String])
    /// An OCI image document (index, manifest, config, docker-save manifest.json) crpod
    /// cannot use; `source` names the file or blob.
    case invalidImage(source: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidJSON(context, detail):
            return "invalid JSON in \(context): \(oneLine(detail))"
        case let .jsonEncodingFailed(detail):
            return "cannot encode JSON: \(oneLine(detail))"
        case let .notAnObject(context):
            return "\(context): expected a JSON object"
        case let .invalidName(value, what, reason):
            return "invalid \(what) \(quoted(value)): \(reason)"
        case let .invalidShareList(value, reason):
            return "invalid namespace share list \(quoted(value)): \(reason)"
        case .emptyProcessArgs:
            return "container spec: process args must not be empty"
        case let .pathNotAbsolute(field, path):
            return "container spec: \(field) must be an absolute path, got \(quoted(path))"
        case let .unknownNamespaceType(type):
            return "container spec: unknown namespace type \(quoted(type)) "
                + "(known: \(OCINamespaceType.all.joined(separator: ", ")))"
        case let .namespaceJoinedAndPrivate(type):
            return type == OCINamespaceType.mount
                ? "container spec: the mount namespace is always private and cannot be joined"
                : "container spec: namespace \(type) is both joined and private"
        case let .emptyNamespacePath(type):
            return "container spec: namespace \(type) to join has an empty path"
        case let .invalidRLimit(type, reason):
            return "container spec: rlimit \(quoted(type)): \(reason)"
        case let .invalidSeccompProfile(source, problems):
            return "invalid seccomp profile \(source): " + problems.map(oneLine).joined(separator: "; ")
        case let .invalidImage(source, reason):
            return "invalid image \(source): \(oneLine(reason))"
        }
    }
}

/// A value in double quotes with control characters escaped, so a message stays one line.
func quoted(_ value: String) -> String {
    String(reflecting: value)
}

/// Collapses line breaks so nested error descriptions keep a message on one line.
func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces() }.joined(separator: " ")
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (FoundationEssentials has no
    /// `trimmingCharacters(in:)`).
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}
