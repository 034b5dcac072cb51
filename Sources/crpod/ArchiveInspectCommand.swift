import ArgumentParser
import CrpodCore
import CrpodEngine

struct ArchiveInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a checkpoint archive holds and whether it is valid (no root, nothing extracted).",
        discussion: "Reads crpod, podman and CRI-O archives (zstd, gzip, xz or plain tar), and crpod's whole-pod archives (crpod pod checkpoint): the pod, then each member. Exits 1 when the archive has problems."
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
        if let pod = archive.pod { return printPodTable(archive, pod) }
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
        printValidity(archive)
    }

    private func printValidity(_ archive: ArchiveInspection) {
        print(archive.valid ? "Valid:        yes" : "Valid:        NO")
        for problem in archive.problems { print("  - [\(problem.code)] \(problem.message)") }
    }

    private func printPodTable(_ archive: ArchiveInspection, _ pod: PodArchiveDescription) {
        print("Archive:      \(archive.path)")
        print("Made by:      \(archive.engine) (whole pod)")
        print("Compression:  \(archive.compression) (\(archive.compressedBytes) bytes, \(archive.uncompressedBytes) unpacked)")
        print("Pod:          \(pod.name) (\(pod.id))")
        print("Shared:       \(pod.shares.isEmpty ? "none" : pod.shares.joined(separator: ","))")
        print("Hostname:     \(pod.hostname ?? "-")")
        let addresses = pod.network.addresses.isEmpty ? "" : " " + pod.network.addresses.joined(separator: ",")
        print("Network:      \(pod.network.name ?? pod.network.mode)\(addresses)\(pod.network.mac.map { " mac \($0)" } ?? "")")
        let ports = pod.network.published.map { "\($0.hostIP.map { $0 + ":" } ?? "")\($0.hostPort):\($0.containerPort)/\($0.protocol)" }
        print("Published:    \(ports.isEmpty ? "none" : ports.joined(separator: ", "))")
        let devShm = archive.members.first { CheckpointMember.canonical($0.name) == CheckpointMember.devShm }
        let shmContent = devShm.map { ", content \($0.size) bytes (\(CheckpointMember.devShm))" } ?? ""
        print("Shm:          \(pod.shmSize.map { "/dev/shm " + ByteSize.format($0) } ?? "none")\(shmContent)")
        print("Members (restore order):")
        for member in archive.podMembers ?? [] {
            let stats = member.statistics.map { ", frozen \($0.frozenTime) µs" } ?? ""
            print("  \(member.containerName ?? "?") (\(member.containerID.map { String($0.prefix(12)) } ?? "?")): CRIU \(member.criuVersion ?? "?")\(stats), \(member.members.count) files")
        }
        printValidity(archive)
    }
}
