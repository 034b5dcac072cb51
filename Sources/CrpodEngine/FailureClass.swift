import CrpodArchive
import CrpodCore
import CrpodDrivers
import CrpodLinux
import CrpodRegistry

/// What kind of failure an error is. The API's HTTP status and every stable machine code come
/// from the error's type through this — never from the words of its message.
public enum FailureKind: Sendable, Equatable {
    /// The request or the archive is malformed or unusable (400).
    case badRequest
    /// A path the caller may not use (403).
    case forbidden
    /// The named object does not exist (404).
    case notFound
    /// The object is in the wrong state or the name is taken (409).
    case conflict
    /// Understood but refused: the restore planner, the policy, the image rule (422).
    case refused
    /// Too much work already queued (429).
    case busy
    /// Anything else: crpod or the host failed (500).
    case internalFailure
}

/// An error's kind and its stable, documented machine code (`restore_refused`, …).
public struct FailureClass: Sendable, Equatable {
    public let kind: FailureKind
    public let code: String

    public init(_ kind: FailureKind, _ code: String) {
        self.kind = kind
        self.code = code
    }

    public static let internalFailure = FailureClass(.internalFailure, "internal")

    /// The class of any error crpod throws; errors that carry a cause (`EngineError.step`,
    /// `ArchiveError.io`) are classified by it.
    public static func of(_ error: any Error) -> FailureClass {
        switch error {
        case let error as any ClassifiedError: return error.failureClass
        case let error as ArchiveError: return of(archive: error)
        case let error as RegistryError: return of(registry: error)
        case let error as LinuxError: return of(linux: error)
        case let error as CoreError:
            if case .jsonEncodingFailed = error { return .internalFailure }
            return FailureClass(.badRequest, "invalid_input")
        case is DecodingError: return FailureClass(.badRequest, "invalid_input")
        default: return .internalFailure
        }
    }

    /// A file that is not a regular file or is over its limit is unusable input; other system
    /// call failures are the host's.
    static func of(linux error: LinuxError) -> FailureClass {
        switch error {
        case .notRegularFile: return FailureClass(.badRequest, "not_a_regular_file")
        case .fileTooLarge: return FailureClass(.badRequest, "file_too_large")
        case .syscall, .parse, .notFound, .timedOut: return .internalFailure
        }
    }

    /// A registry's refusal, bad content, an untrusted certificate or missing/refused credentials is the request's problem; transport and files are the host's;
    /// a build without the registry client refuses (422).
    static func of(registry error: RegistryError) -> FailureClass {
        switch error {
        case .status, .authentication, .digestMismatch, .tooLarge, .credentials, .credentialsRefused, .noCredentials, .untrustedCertificate:
            return FailureClass(.badRequest, "registry_failed")
        case .transport, .file: return .internalFailure
        case .notBuiltIn: return FailureClass(.refused, "registry_not_built")
        case .notAllowed: return FailureClass(.forbidden, "registry_not_allowed")
        }
    }

    /// Whatever the archive's content did wrong makes it invalid; crpod's own failures are not.
    static func of(archive error: ArchiveError) -> FailureClass {
        switch error {
        case let .io(linux): return of(linux: linux)
        case .digest, .writerClosed, .targetNotEmpty, .cancelled, .fileChanged, .notARegularFile, .treeTooDeep:
            return .internalFailure
        case .libarchive, .unsafeMemberName, .duplicateMember, .memberTooLarge, .tooManyMembers, .archiveTooLarge,
             .compressionUnknown, .manifest, .memberTypeRefused, .unsafeLinkTarget, .compressionRatioExceeded,
             .unsafeDeletedPath, .deletedPathConflict, .digestMismatch, .unsafeWhiteout:
            return FailureClass(.badRequest, "archive_invalid")
        }
    }
}

/// An error that knows its own class (the engine's, the API's and the job queue's errors).
public protocol ClassifiedError: Error {
    var failureClass: FailureClass { get }
}

/// The native engine: what it cannot provide for a checkpoint is a refusal (422), like the
/// planner's; a step around CRIU is classified by its cause.
extension NativeEngineError: ClassifiedError {
    public var failureClass: FailureClass {
        switch self {
        case .unsupported: return FailureClass(.refused, "restore_refused")
        case .notFound: return FailureClass(.notFound, "container_not_found")
        case .running: return FailureClass(.conflict, "container_running")
        case .notRunning: return FailureClass(.conflict, "container_not_running")
        case .stateUnreadable, .stateUnwritable: return FailureClass(.internalFailure, "state_corrupt")
        case .tasksOutsideTree, .dumpIncomplete: return .internalFailure  // the dump's: unchanged
        }
    }
}

extension NativeRestoreError: ClassifiedError {
    public var failureClass: FailureClass {
        switch self {
        case let .step(_, cause): return FailureClass.of(cause)
        }
    }
}

extension EngineError: ClassifiedError {
    public var failureClass: FailureClass {
        switch self {
        case .podNotFound: return FailureClass(.notFound, "pod_not_found")
        case .containerNotFound: return FailureClass(.notFound, "container_not_found")
        case .nameInUse: return FailureClass(.conflict, "name_in_use")
        case .ambiguousReference: return FailureClass(.badRequest, "ambiguous_reference")
        case .rootfsMissing: return FailureClass(.badRequest, "rootfs_missing")
        case .invalidInput: return FailureClass(.badRequest, "invalid_input")
        case .podHasContainers: return FailureClass(.conflict, "pod_has_containers")
        case .containerRunning: return FailureClass(.conflict, "container_running")
        case .containerNotRunning: return FailureClass(.conflict, "container_not_running")
        case .infraNotRunning: return FailureClass(.conflict, "infra_not_running")
        case .infraStartFailed: return FailureClass(.internalFailure, "infra_start_failed")
        case .helperMissing, .toolMissing: return FailureClass(.internalFailure, "tool_missing")
        case .stateCorrupt: return FailureClass(.internalFailure, "state_corrupt")
        case .archiveInvalid: return FailureClass(.badRequest, "archive_invalid")
        case .restoreRefused: return FailureClass(.refused, "restore_refused")
        case .policyRefused: return FailureClass(.refused, "policy_refused")
        case .imageRuleRefused: return FailureClass(.refused, "image_rule_refused")
        case .restoreMisplaced: return FailureClass(.internalFailure, "restore_misplaced")
        case .spoolItemRefused: return FailureClass(.badRequest, "spool_item_refused")
        case .imageNotFound: return FailureClass(.notFound, "image_not_found")
        case .imageInUse: return FailureClass(.conflict, "image_in_use")
        case let .step(_, cause): return FailureClass.of(cause)
        }
    }
}
