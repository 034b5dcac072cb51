#if canImport(Glibc)
import Glibc
#endif
import CrpodArchive
import CrpodCore
import CrpodLinux

/// A spool directory and its processing/, done/ and failed/ subdirectories, each held open as
/// an fd: items are opened and moved relative to these, never by re-resolving a path.
struct SpoolFolders: Sendable {
    let incoming: OpenDirectory
    let processing: OpenDirectory
    let done: OpenDirectory
    let failed: OpenDirectory

    init(_ path: String) throws(LinuxError) {
        incoming = try OpenDirectory(path)
        processing = try OpenDirectory(path + "/processing")
        done = try OpenDirectory(path + "/done")
        failed = try OpenDirectory(path + "/failed")
    }

    /// Names in `directory` the filter accepts that are not directories: regular files and
    /// everything that must be refused (FIFOs, symlinks, devices, sockets, names that are not
    /// UTF-8 — listed lossily, found again by their bytes), sorted.
    static func readyItems(_ directory: String, filter: SpoolFilter) throws(LinuxError) -> [String] {
        try Files.listDirectory(directory).filter { name in
            guard filter.isReady(name) else { return false }
            var info = stat()
            guard lstat("\(directory)/\(name)", &info) == 0 else { return name.unicodeScalars.contains("\u{FFFD}") }
            return (info.st_mode & S_IFMT) != S_IFDIR
        }
    }
}

/// What claiming a new spool item gave.
enum SpoolClaim {
    /// Opened, checked and moved into processing/: the fd is the file now there.
    case claimed(OpenedFile)
    /// Unusable (the error says why); it is still where it was found.
    case refused(any Error)
    /// Gone before it could be opened (handled already, or removed by its writer).
    case gone
}

extension SpoolService {
    /// Opens the item where it was dropped (never following a symlink, never blocking), checks
    /// it is a regular file within the size limit, moves its sidecar and then the item into
    /// processing/ — verifying that what moved is the file that was opened.
    func claim(_ name: String, in folders: SpoolFolders) async -> SpoolClaim {
        let file: OpenedFile
        do {
            file = try folders.incoming.openRegularFile(name, maxBytes: ArchiveFile.maxBytes)
        } catch {
            return error.errno == .noSuchFileOrDirectory ? .gone : .refused(error)
        }
        let sidecar = name + SpoolSidecar.suffix
        if folders.incoming.contains(sidecar) { try? folders.incoming.move(sidecar, to: folders.processing) }
        do {
            try folders.incoming.move(name, to: folders.processing, expected: file.identity)
        } catch {
            if error.errno == .noSuchFileOrDirectory { return .gone }
            // Whatever arrived in processing/ is not the checked file: it fails from there.
            refuse(name, from: folders.processing, folders: folders, error: error)
            return .gone
        }
        return .claimed(file)
    }
}

/// `<archive>.target`: the pod an archive goes into. Small and strict: a regular file of at
/// most 256 bytes holding one pod reference (a name or ID, trailing whitespace allowed).
enum SpoolSidecar {
    static let suffix = ".target"
    static let maxBytes: UInt64 = 256

    /// The pod reference in `name`, nil when there is no sidecar; anything unusable throws,
    /// so the archive fails instead of going to another pod.
    static func read(_ name: String, in directory: OpenDirectory) throws -> String? {
        let path = directory.pathOf(name)
        let bytes: [UInt8]
        do {
            bytes = try directory.openRegularFile(name, maxBytes: maxBytes).readAll()
        } catch {
            if error.errno == .noSuchFileOrDirectory { return nil }
            throw EngineError.spoolItemRefused(path: path, reason: "sidecar unusable: \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw EngineError.spoolItemRefused(path: path, reason: "sidecar is not UTF-8 text")
        }
        let reference = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        do { try NameRule.validate(reference, what: "pod reference in sidecar") } catch {
            throw EngineError.spoolItemRefused(path: path, reason: "\(error)")
        }
        return reference
    }
}
