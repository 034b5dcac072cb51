#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CrpodLinux
import Testing

/// Debian's `docker-registry` (distribution 2.8) serving plain HTTP on 127.0.0.1 from the
/// test instance's directory, the way DaemonProcess runs the crpod daemon.
final class RegistryProcess {
    static let binary = "/usr/bin/docker-registry"
    let process = Process()
    let port: Int
    let storage: String
    var host: String { "127.0.0.1:\(port)" }

    init(_ crpod: CrpodInstance) throws {
        try #require(Files.exists(Self.binary), "docker-registry is not installed: run contrib/provision.sh")
        port = 20000 + Int.random(in: 0..<20000)
        storage = crpod.base + "/registry"
        let config = """
            version: 0.1
            log: {level: warn}
            storage:
              filesystem: {rootdirectory: \(storage)}
            http:
              addr: 127.0.0.1:\(port)
            """
        try Files.writeAtomically(crpod.base + "/registry.yml", Array(config.utf8))
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", crpod.base + "/registry.yml"]
        let log = crpod.base + "/registry.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardOutput = FileHandle(forWritingAtPath: log)
        try process.run()
    }

    /// Waits until the port accepts connections.
    func waitListening() async throws -> Bool {
        try await eventually(seconds: 20) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }

    /// The registry's file of the blob `hex` (distribution's filesystem layout).
    func blobFile(_ hex: String) -> String {
        "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
