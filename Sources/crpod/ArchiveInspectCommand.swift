import ArgumentParser
import CrpodEngine

struct ArchiveInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a checkpoint archive holds and whether it is valid (no root, nothing extracted).",
        discussion: "Reads crpod, podman and CRI-O archives (zstd, gzip, xz or plain tar). Exits 1 when the archive has problems."
    )

    @Option(help: "table or json") var format: OutputFormat = .table
    @Argument(help: "Archive file.") var file: String

    func run() async throws {
        let (inspection, _) = try ArchiveInspector.inspect(path: absolutePath(file))
        if format == .json {
            try Output.json(inspection)
        } else {
            printTable(inspection)
        }
        if !inspection.valid { throw ExitCode(1) }
    }

    private func printTable(_ archive: ArchiveInspection) {
        print("Archive:      \(archive.path)")
        print("Made by:      \(archive.engine)")
        print("Compression:  \(archive.compression) (\(archive.compressedBytes) bytes, \(archive.uncompressedBytes) unpacked)")
        print("Container:    \(archive.containerName ?? "?") (\(archive.containerID ?? "?"))")
        print("Pod:          \(archive.podID.map { id in archive.podName.map { "\($0) (\(id))" } ?? id } ?? "none")")
        print("Shared:       \(archive.sharedNamespaces.isEmpty ? "none" : archive.sharedNamespaces.joined(separator: ","))")
        print("Runtime:      \(archive.runtime ?? "?")")
        print("CRIU:         \(archive.criuVersion ?? "unknown") (image version \(archive.imageVersion.map(String.init) ?? "?"))")
        print("Rootfs:       \(archive.rootfs ?? "?")")
        if let stats = archive.statistics {
            print("Statistics:   frozen \(stats.frozenTime) µs, memdump \(stats.memdumpTime) µs, \(stats.pagesWritten) pages written")
        }
        print("Members:")
        for member in archive.members {
            print("  \(String(member.size).padding(toLength: 10)) \(member.type.rawValue.padding(toLength: 9)) \(member.name)")
        }
        print(archive.valid ? "Valid:        yes" : "Valid:        NO")
        for problem in archive.problems { print("  - [\(problem.code)] \(problem.message)") }
    }
}
