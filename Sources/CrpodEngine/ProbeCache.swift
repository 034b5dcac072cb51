#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CrpodDrivers
import CrpodLinux

/// Results of tool probes (CRIU's version, the runtime's pod-restore support, CRIU's socket
/// dump), cached under the run root and keyed by the tool's path, inode, size and mtime (plus
/// a `variant` such as the CRIU version and kernel release), so each restore does not pay extra
/// process launches. A replaced binary or a new variant gets a new key; a lost cache is re-probed.
struct ProbeCache {
    let file: String

    static func key(_ probe: String, tool path: String, variant: String = "") -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return "\(probe)|\(path)|\(info.st_ino)|\(info.st_size)|\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)|\(variant)"
    }

    func load() -> [String: String] {
        guard let bytes = try? Files.read(file, limit: 1 << 20),
              let values = try? JSONDecoder().decode([String: String].self, from: Data(bytes)) else { return [:] }
        return values
    }

    /// The cached value for `probe` of `path`, or the result of `compute` (stored when non-nil).
    func value(_ probe: String, tool path: String, variant: String = "", compute: () async -> String?) async -> String? {
        guard let key = Self.key(probe, tool: path, variant: variant) else { return await compute() }
        var values = load()
        if let cached = values[key] { return cached }
        guard let fresh = await compute() else { return nil }
        values = values.filter { !$0.key.hasPrefix("\(probe)|\(path)|") }
        values[key] = fresh
        if let data = try? JSONEncoder().encode(values) {
            try? Files.makeDirectories(Files.parent(of: file), mode: 0o700)
            try? Files.writeAtomically(file, Array(data), mode: 0o600)
        }
        return fresh
    }
}

extension Engine {
    var probeCache: ProbeCache { ProbeCache(file: settings.runRoot + "/probes.json") }

    func criuVersionNumber() async -> Int? {
        guard let path = settings.criuPath else { return nil }
        let text = await probeCache.value("criu-version", tool: path) {
            (try? await CRIUProbe(runner: runner).version(at: path).number).map(String.init)
        }
        return text.flatMap { Int($0) }
    }

    func runtimeSupportsPodRestore(_ path: String) async -> Bool {
        let text = await probeCache.value("runtime-pod-restore", tool: path) {
            await RuntimeProbe(runner: runner).supportsPodRestore(at: path).isSupported ? "yes" : "no"
        }
        return text == "yes"
    }
}
