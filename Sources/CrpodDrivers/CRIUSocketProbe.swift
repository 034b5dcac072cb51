#if canImport(Glibc)
import Glibc
#endif
import CrpodLinux

/// What the socket probe found out about a CRIU.
public enum SocketDumpSupport: Sendable, Equatable {
    /// CRIU dumped a process holding a TCP listener, an established pair and a UDP socket.
    case dumps
    /// CRIU ran and failed; `reason` is the line of its log that says why.
    case refused(reason: String)
    /// The probe itself could not run (helper missing or failing, no scratch space): this says
    /// nothing about CRIU, so it is never cached.
    case inconclusive(reason: String)
}

/// Asks CRIU to really dump a process holding sockets, because `criu check` passes where CRIU
/// cannot dump a single inet socket (CRIU 4.1.1 on Linux >= 6.16: `sockets.c:628: Can't get
/// 1:16 opt: Operation not supported`, CRIU issues 2705 and 2718).
///
/// The helper (crpod-sockprobe) prints the pid of a process in a network namespace of its
/// own that holds the sockets. CRIU dumps it with `--tcp-established` and the namespace
/// external (as runc does for a pod's), so the namespace and CRIU's network lock in it vanish
/// with the process. Afterwards the process is killed (CRIU already did after a good dump) and
/// the image directory removed: nothing is left.
public struct CRIUSocketProbe: Sendable {
    public static let externalNetKey = "crpod-sockprobe"
    public let runner: ToolRunner

    public init(runner: ToolRunner = ToolRunner()) {
        self.runner = runner
    }

    /// Runs the probe; `scratch` is a directory for the temporary image directory.
    public func probe(criu: String, helper: String, scratch: String) async -> SocketDumpSupport {
        let process: ProcessIdentity
        let netns: NamespaceRef
        switch await startHelper(helper) {
        case let .success(started): (process, netns) = started
        case let .failure(reason): return .inconclusive(reason: reason)
        }
        defer { try? Processes.signal(process, SIGKILL) }
        let images: String
        do { images = try Files.makeTemporaryDirectory(in: scratch, prefix: "sockprobe-") } catch {
            return .inconclusive(reason: "\(error)")
        }
        defer { try? Files.removeTree(images) }
        let arguments = Self.dumpArguments(pid: process.pid, netnsInode: netns.inode, images: images)
        let result: ToolResult
        do { result = try await runner.run(criu, arguments) } catch {
            return .inconclusive(reason: "\(error)")
        }
        if result.succeeded { return .dumps }
        let log = (try? Files.readText(images + "/dump.log", limit: 4 << 20)) ?? ""
        return .refused(reason: Self.reason(log: log, result: result))
    }

    public static func dumpArguments(pid: Int32, netnsInode: UInt64, images: String) -> [String] {
        ["dump", "--tree", String(pid), "--images-dir", images, "--log-file", "dump.log", "--tcp-established",
         "--external", "net[\(netnsInode)]:\(externalNetKey)"]
    }

    /// The first error line of CRIU's log (harmless ones skipped), else its diagnostics.
    static func reason(log: String, result: ToolResult) -> String {
        let errors = CRIULog.excerpt(log, tail: 0).filter { $0.contains("Error") }
        if let first = errors.first { return first }
        let tail = result.diagnosticTail(lines: 3)
        return "criu dump failed (\(result.status))" + (tail.isEmpty ? "" : ": \(tail)")
    }

    private enum Started {
        case success((ProcessIdentity, NamespaceRef))
        case failure(String)
    }

    private func startHelper(_ helper: String) async -> Started {
        let result: ToolResult
        do { result = try await runner.run(helper, []) } catch { return .failure("\(error)") }
        let printed = result.stdout.split(whereSeparator: \.isWhitespace).first.map(String.init) ?? ""
        guard result.succeeded, let pid = Int32(printed), pid > 0 else {
            let said = result.diagnosticTail(lines: 3)
            return .failure("\(helper) failed (\(result.status))" + (said.isEmpty ? "" : ": \(said)"))
        }
        let process: ProcessIdentity
        do { process = try ProcessIdentity.of(pid: pid) } catch { return .failure("probe process \(pid): \(error)") }
        do { return .success((process, try NamespaceRef.of(pid: pid, kind: .net))) } catch {
            try? Processes.signal(process, SIGKILL)
            return .failure("probe process \(pid): \(error)")
        }
    }
}
