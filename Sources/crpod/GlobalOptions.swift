#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CrpodEngine
import CrpodLinux
import CrpodService
import Logging
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("State directory (env CRPOD_ROOT).", valueName: "dir"))
    var root: String?

    @Option(name: .customLong("run-root"), help: ArgumentHelp("Runtime state directory (env CRPOD_RUNROOT).", valueName: "dir"))
    var runRoot: String?

    @Option(help: ArgumentHelp("Path of the OCI runtime (default: runc on PATH).", valueName: "path"))
    var runtime: String?

    @Option(help: ArgumentHelp("Path of the criu binary (default: config, then PATH).", valueName: "path"))
    var criu: String?

    @Option(name: .customLong("engine"), help: ArgumentHelp("Engine that restores and checkpoints: auto (native when CRIU ≥ 3.19, else runc), runc (runc runs CRIU) or native (crpod runs CRIU) (env CRPOD_ENGINE, config key engine).", valueName: "engine"))
    var engineName: String?

    @Option(name: .customLong("cni-config-dir"), help: ArgumentHelp("Directory of CNI network configurations for pod networks (default /etc/cni/net.d, config key cni_config_dir).", valueName: "dir"))
    var cniConfigDirectory: String?

    @Option(help: ArgumentHelp("Config file (default /etc/crpod/crpod.conf, env CRPOD_CONFIG).", valueName: "file"))
    var config: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("Log level on stderr (default warning; the daemon's default is info).", valueName: "level"))
    var logLevel: Logger.Level?

    @Option(help: ArgumentHelp("Go through the crpod daemon at this socket (env CRPOD_HOST; unix://PATH or PATH).", valueName: "socket"))
    var remote: String?

    /// The daemon's socket when `--remote` or CRPOD_HOST asks for one.
    var remoteHost: String? { remote ?? ProcessInfo.processInfo.environment["CRPOD_HOST"].flatMap { $0.isEmpty ? nil : $0 } }

    /// The engine in this process, or the daemon when `--remote`/CRPOD_HOST is set.
    func client() throws -> any CrpodClient {
        if let host = remoteHost { return RemoteClient(host: host) }
        return LocalClient(engine: try engine())
    }

    /// The engine, logging at `--log-level` or else `defaultLevel` (the daemon logs each
    /// restore and refusal at info, so that is its default).
    func engine(defaultLevel: Logger.Level = .warning) throws -> Engine {
        let level = logLevel ?? defaultLevel
        let journal = Systemd.journalStreamIsStderr()
        LoggingSystem.bootstrap { label in
            if journal { return JournalLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            // One event, one line: names from outside (spool files) cannot forge log lines.
            return EscapingLogHandler(handler)
        }
        return Engine(settings: try settings(), logger: Logger(label: "crpod"))
    }

    /// The engine's settings from these flags, the environment and the config file.
    func settings() throws -> EngineSettings {
        let overrides = EngineSettings.Overrides(root: root, runRoot: runRoot, runtime: runtime, criu: criu, configPath: config, engine: engineName,
                                                 cniConfigDirectory: cniConfigDirectory)
        return try EngineSettings.resolve(overrides, environment: ProcessInfo.processInfo.environment)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
}

/// Output helpers shared by the commands.
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// What a restore chose or left out (the plan's notes), one `note: …` line each on stderr,
    /// so stdout stays the id a script reads.
    static func notes(_ notes: [String]) {
        for note in notes {
            let line = Array("note: \(note)\n".utf8)
            _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index])
            }
            print(cells.joined(separator: "  "))
        }
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
