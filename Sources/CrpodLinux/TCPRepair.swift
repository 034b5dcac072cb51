#if canImport(Glibc)
import Glibc
#endif
import CShims

/// TCP repair mode set on another process's connections (pidfd_getfd + TCP_REPAIR).
///
/// A socket in repair mode closes silently: the kernel sends neither FIN nor RST when its last
/// descriptor goes (tcp_disconnect skips the reset for a repaired socket). CRIU relies on this
/// when it kills the tasks it dumped with `--tcp-established`; a dump left running
/// (`--leave-running`) takes its sockets out of repair mode, so a process killed afterwards
/// would close its connections: the peer sees a FIN and the restored socket is useless.
public enum TCPRepair {
    private static let tcpRepair: Int32 = 19       // TCP_REPAIR (linux/tcp.h)
    private static let soProtocol: Int32 = 38      // SO_PROTOCOL (asm/socket.h)
    private static let listenState: UInt8 = 10     // TCP_LISTEN: the kernel refuses repair on it

    /// Puts every connected TCP socket held by `pid` in repair mode and returns how many. Needs
    /// CAP_NET_ADMIN in the sockets' network namespace and ptrace access to `pid` (root).
    @discardableResult
    public static func silenceConnections(of pid: Int32, procRoot: String = "/proc") throws(LinuxError) -> Int {
        let directory = "\(procRoot)/\(pid)/fd"
        let pidfd = try shimCall("pidfd_open", path: "\(procRoot)/\(pid)") { crpod_pidfd_open(pid) }
        defer { _ = Glibc.close(pidfd) }
        var silenced = 0
        for name in try Files.listDirectory(directory) {
            guard let number = Int32(name), Files.readLink(directory + "/" + name)?.hasPrefix("socket:") == true else { continue }
            let socket = try shimCall("pidfd_getfd", path: directory + "/" + name) { crpod_pidfd_getfd(pidfd, number) }
            defer { _ = Glibc.close(socket) }
            guard isConnectedTCP(socket) else { continue }
            var on: Int32 = 1
            _ = try sysCall("setsockopt TCP_REPAIR", path: directory + "/" + name) {
                setsockopt(socket, Int32(IPPROTO_TCP), tcpRepair, &on, socklen_t(MemoryLayout<Int32>.size))
            }
            silenced += 1
        }
        return silenced
    }

    private static func isConnectedTCP(_ socket: Int32) -> Bool {
        var proto: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(socket, SOL_SOCKET, soProtocol, &proto, &length) == 0, proto == Int32(IPPROTO_TCP) else { return false }
        var info = tcp_info()
        length = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(socket, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return false }
        return info.tcpi_state != listenState
    }
}
