#if canImport(Glibc)
import Glibc
#endif
import CrpodDrivers
import CrpodLinux

extension Engine {
    static let socketProbeFix = "run contrib/provision.sh, or point --criu at a CRIU >= 4.2 for kernels >= 6.16"
    static let socketProbeHelper = "crpod-sockprobe"

    /// Whether CRIU can really dump a process holding sockets (`criu check` does not tell:
    /// CRIU 4.1.1 passes it on Linux >= 6.16 yet fails on every inet socket). The answer is
    /// cached per CRIU (path, file, version) and kernel release; an inconclusive run is not.
    func criuSocketFact() async -> CheckFact? {
        guard let criu = settings.criuPath else { return nil }
        let name = "criu sockets"
        let helper: String
        do { helper = try settings.helperPath(Self.socketProbeHelper) } catch {
            return CheckFact(name: name, ok: false, detail: "\(error)", fix: "build \(Self.socketProbeHelper) (swift build) beside crpod", required: true)
        }
        let variant = "\(await criuVersionNumber().map(String.init) ?? "?")|\(Self.kernelRelease())"
        var inconclusive: String?
        let cached = await probeCache.value("criu-sockets", tool: criu, variant: variant) {
            switch await CRIUSocketProbe(runner: runner).probe(criu: criu, helper: helper, scratch: settings.runRoot + "/probes") {
            case .dumps: return SocketProbeAnswer.dumps
            case let .refused(reason): return SocketProbeAnswer.refusedPrefix + reason
            case let .inconclusive(reason):
                inconclusive = reason
                return nil
            }
        }
        return Self.socketFact(name: name, criu: criu, answer: cached, inconclusive: inconclusive)
    }

    static func socketFact(name: String, criu: String, answer: String?, inconclusive: String?) -> CheckFact {
        if answer == SocketProbeAnswer.dumps {
            return CheckFact(name: name, ok: true, detail: "\(criu) dumped a TCP listener, an established loopback pair and a UDP socket (--tcp-established)",
                             fix: nil, required: true)
        }
        if let answer, answer.hasPrefix(SocketProbeAnswer.refusedPrefix) {
            let reason = answer.dropFirst(SocketProbeAnswer.refusedPrefix.count)
            return CheckFact(name: name, ok: false, detail: "\(criu) cannot dump a process holding sockets: \(reason)",
                             fix: socketProbeFix, required: true)
        }
        return CheckFact(name: name, ok: false, detail: "the socket probe could not run: \(inconclusive ?? answer ?? "no answer")",
                         fix: "see the detail; then run crpod check again", required: true)
    }

    /// `uname -r`: part of the socket probe's cache key (what CRIU can dump depends on it).
    static func kernelRelease() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "?" }
        return withUnsafeBytes(of: &name.release) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

/// How a socket probe answer is stored in the probe cache.
enum SocketProbeAnswer {
    static let dumps = "dumps"
    static let refusedPrefix = "refused: "
}
