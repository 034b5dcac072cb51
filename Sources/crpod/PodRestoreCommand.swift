import ArgumentParser
import CrpodDrivers
import CrpodEngine

struct PodRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a whole-pod archive (crpod pod checkpoint) as a new pod with all its containers.",
        discussion: """
        Creates the pod again (same shares, hostname and network; the same address unless --ignore-static-ip, the same published ports unless --publish) and restores every member in the archive's order into it, each under its own name with a new id (native engine: each restored stopped, all resumed together once the last is back). The pod's SysV IPC objects come back once, from one member's images, into the new pod's IPC namespace; later members that had a segment attached get it attached again before they run (native engine; runc refuses such a pod). Every archive member is validated as a single-container archive is, the image rule included. Any failure removes everything the restore made (members, pod, network): no half pod.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: [.customShort("i"), .customLong("import")], help: ArgumentHelp("Pod archive to restore.", valueName: "file"))
    var importPath: String
    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Name of the new pod (default: the archive's).", valueName: "name"))
    var name: String?
    @Flag(name: .customLong("ignore-static-ip"), help: "Let the network pick a new address instead of the pod's.") var ignoreStaticIP = false
    @Flag(name: .customLong("ignore-static-mac"), help: "Do not ask for the pod's MAC address.") var ignoreStaticMAC = false
    @Option(name: [.customShort("p"), .customLong("publish")],
            help: ArgumentHelp("Publish these ports instead of the archive's: HOSTPORT:PORT[/tcp|udp] (repeatable).", valueName: "ports"))
    var publish: [String] = []
    @Option(name: .customLong("cgroup-parent"), help: ArgumentHelp("Cgroup under which the new pod's cgroup is made (default: the configured one, /crpod).", valueName: "path"))
    var cgroupParent: String?
    @Flag(name: .customLong("tcp-established"), help: "Restore established TCP connections (an archive holding some is refused without it; needs the pod's address, so not with --ignore-static-ip).") var tcpEstablished = false
    @Flag(name: .customLong("file-locks"), help: "Restore file locks.") var fileLocks = false
    @Flag(name: .customLong("trust-archive"), help: "Skip the image rule for every member (as crpod restore --trust-archive).") var trustArchive = false
    @Flag(name: .customLong("print-stats"), help: "Print the outcome as JSON.") var printStats = false
    @Flag(name: .shortAndLong, help: "Keep the extracted images and CRIU's logs.") var keep = false

    func run() async throws {
        var request = PodRestoreRequest(importPath: absolutePath(importPath))
        request.name = name
        request.ignoreStaticIP = ignoreStaticIP
        request.ignoreStaticMAC = ignoreStaticMAC
        request.cgroupParent = cgroupParent
        request.tcpEstablished = tcpEstablished
        request.fileLocks = fileLocks
        request.trustArchive = trustArchive
        request.keep = keep
        if !publish.isEmpty {
            request.publish = try publish.map { text in
                guard let mapping = CNIPortMapping.parse(text) else {
                    throw ValidationError("--publish \(text): expected HOSTPORT:PORT[/tcp|udp] with ports 1-65535")
                }
                return mapping
            }
        }
        let outcome = try await global.client().restorePod(request)
        Output.notes(outcome.notes + outcome.members.flatMap { member in member.notes.map { "\(member.name): \($0)" } })
        guard printStats else { return print(outcome.podID) }
        try Output.json(outcome)
    }
}
