import CrpodCore
import CrpodDrivers
import CrpodLinux

/// Errors of the engine: each says what was wrong and where; wrapped causes are kept. What
/// kind of failure each case is (and its API status and code) is `failureClass`.
public enum EngineError: Error, CustomStringConvertible {
    case podNotFound(String)
    case containerNotFound(String)
    case nameInUse(kind: String, name: String, id: String)
    case ambiguousReference(kind: String, reference: String, matches: [String])
    case rootfsMissing(path: String)
    case invalidInput(what: String, detail: String)
    case podHasContainers(pod: String, containers: [String])
    case containerRunning(name: String)
    case containerNotRunning(name: String, state: String)
    case infraNotRunning(pod: String, pid: Int32)
    case infraStartFailed(pod: String, detail: String)
    case helperMissing(name: String, searched: [String])
    case toolMissing(name: String, fix: String)
    case stateCorrupt(path: String, detail: String)
    /// The archive failed validation; every problem is listed. The archive is untouched.
    case archiveInvalid(path: String, problems: [String])
    /// The restore plan found problems; every one is listed. Nothing was changed.
    case restoreRefused(problems: [String])
    /// The daemon's policy refuses the archive's spec (or, for `run`, the request); nothing
    /// was started. `operation` is the refused verb ("restore", "run").
    case policyRefused(problems: [String], operation: String = "restore")
    /// A spool item (or its sidecar) that cannot be used; it goes to failed/ with this reason.
    case spoolItemRefused(path: String, reason: String)
    /// The checkpoint images would restore more privilege than the final spec gives (the image rule).
    case imageRuleRefused(problems: [String])
    /// The runtime restored the container but some of its tasks are outside its cgroup (in
    /// some hierarchy); they were killed.
    case restoreMisplaced(container: String, problems: [String])
    /// No image in the store answers to `reference`; `context` says who asked (an archive's record).
    case imageNotFound(reference: String, context: String?)
    /// `image rm` of an image containers still run on.
    case imageInUse(image: String, containers: [String])
    /// A step failed in the Linux layer, a driver or the domain model.
    case step(String, cause: any Error)

    public var description: String {
        switch self {
        case let .podNotFound(ref):
            return "pod \"\(ref)\" cannot be retrieved: no pod with name or ID \(ref) found"
        case let .containerNotFound(ref):
            return "no container with name or ID \"\(ref)\" found"
        case let .nameInUse(kind, name, id):
            return "the \(kind) name \"\(name)\" is already in use by \(id.prefix(12)); remove it or choose another name"
        case let .ambiguousReference(kind, ref, matches):
            return "\(kind) reference \"\(ref)\" is ambiguous: it matches \(matches.joined(separator: ", "))"
        case let .rootfsMissing(path):
            return "rootfs \(path) does not exist or is not a directory"
        case let .invalidInput(what, detail):
            return "invalid \(what): \(detail)"
        case let .podHasContainers(pod, containers):
            return "pod \(pod) has containers (\(containers.joined(separator: ", "))): remove them first or use -f"
        case let .containerRunning(name):
            return "container \(name) is running: stop it first or use -f"
        case let .containerNotRunning(name, state):
            return "container \(name) is not running (state: \(state))"
        case let .infraNotRunning(pod, pid):
            return "the infra process (pid \(pid)) of pod \(pod) is not running; remove the pod and create it again"
        case let .infraStartFailed(pod, detail):
            return "cannot start the infra process of \(pod): \(detail)"
        case let .helperMissing(name, searched):
            return "helper \(name) not found (looked in \(searched.joined(separator: ", "))); set CRPOD_HELPER_DIR"
        case let .toolMissing(name, fix):
            return "\(name) not found: \(fix)"
        case let .stateCorrupt(path, detail):
            return "state file \(path) is unreadable: \(detail)"
        case let .archiveInvalid(path, problems):
            return "archive \(path) is not valid (left untouched):" + Self.list(problems)
        case let .restoreRefused(problems):
            return problems.count == 1 ? problems[0] : "cannot restore:" + Self.list(problems)
        case let .policyRefused(problems, operation):
            return "\(operation) refused by policy:" + Self.list(problems)
        case let .spoolItemRefused(path, reason):
            return "spool item \(path) refused: \(reason)"
        case let .imageRuleRefused(problems):
            return "cannot restore: the checkpoint images would restore more than the spec allows (the image rule):" + Self.list(problems)
        case let .restoreMisplaced(container, problems):
            return "restored container \(container) is not in its own cgroup (its tasks were killed):" + Self.list(problems)
        case let .imageNotFound(reference, context):
            return "image \(reference) is not in the image store" + (context.map { " (\($0))" } ?? "")
                + ": import it with crpod image import, or pass --rootfs DIR"
        case let .imageInUse(image, containers):
            return "image \(image) is used by containers \(containers.joined(separator: ", ")): remove them first"
        case let .step(step, cause):
            return "\(step): \(cause)"
        }
    }
}

extension EngineError {
    static func list(_ items: [String]) -> String {
        items.map { "\n  - \($0)" }.joined()
    }
}

/// Runs `body` and wraps any error that is not already an EngineError with the step's name.
func step<T>(_ name: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as EngineError { throw error } catch {
        throw EngineError.step(name, cause: error)
    }
}

func step<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let error as EngineError { throw error } catch {
        throw EngineError.step(name, cause: error)
    }
}
