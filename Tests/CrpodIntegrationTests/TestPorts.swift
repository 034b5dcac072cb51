#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// TCP ports for the test servers (registries, token servers) and published pod ports.
///
/// Ports come from below the kernel's ephemeral range (32768–60999 here), so no outgoing
/// connection holds one, and each is handed out once per test process, so two suites running in
/// parallel never start two servers on one port (a registry that cannot bind exits, and its
/// client then talks to the other suite's registry). A port something else listens on is skipped.
enum TestPorts {
    private static let handedOut = Mutex<Set<Int>>([])
    static let range = 20000..<32768

    /// A port nothing in this process has been given and nothing on 127.0.0.1 is bound to now.
    static func unused() -> Int {
        handedOut.withLock { taken in
            while true {
                let port = Int.random(in: range)
                guard !taken.contains(port) else { continue }
                taken.insert(port)
                if isFree(port) { return port }
            }
        }
    }

    /// Binding 127.0.0.1:`port` (and 0.0.0.0, for published ports) succeeds.
    static func isFree(_ port: Int) -> Bool {
        ["127.0.0.1", "0.0.0.0"].allSatisfy { address in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
            socketAddress.sin_addr.s_addr = inet_addr(address)
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }
}
