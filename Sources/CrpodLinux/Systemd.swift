#if canImport(Glibc)
import Glibc
#endif
import CShims
import SystemPackage

/// The service-manager side of systemd: readiness notification, the watchdog, socket
/// activation and the journal. Every entry point that reads the environment has a pure
/// counterpart (`render`, `parseWatchdog`, `parseJournalStream`, …) so it is tested without sockets.
public enum Systemd {
    /// One `KEY=value` line of an `sd_notify` message.
    public enum NotifyState: Sendable, Equatable {
        case ready
        /// Rendered with `MONOTONIC_USEC=`, which `Type=notify-reload` (systemd ≥ 253) requires.
        case reloading
        case stopping
        /// Free text for `systemctl status`; newlines become spaces, NUL bytes are dropped.
        case status(String)
        case watchdog
        case mainPID(Int32)
        case errno(Int32)
    }

    // MARK: notify

    /// Sends the states to `$NOTIFY_SOCKET`. Returns false when the variable is unset (not run
    /// by systemd, or not `Type=notify`), true when the datagram was sent.
    @discardableResult
    public static func notify(_ states: [NotifyState]) throws(LinuxError) -> Bool {
        guard let address = environment("NOTIFY_SOCKET"), !address.isEmpty else { return false }
        try notify(states, socket: address)
        return true
    }

    /// Sends the states as one datagram to `address`: a socket path, or `@name` for the
    /// abstract namespace (what systemd puts in `$NOTIFY_SOCKET`). No environment involved.
    public static func notify(_ states: [NotifyState], socket address: String) throws(LinuxError) {
        let message = Array(render(states, monotonicMicroseconds: monotonicMicroseconds()).utf8)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var path = Array(address.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        guard !path.isEmpty, path.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw LinuxError.parse(file: "NOTIFY_SOCKET", line: nil, detail: "\"\(address)\" is not a usable socket address")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))
        let fd = try sysCall("socket", path: address) { socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        defer { close(fd) }
        try sysCall("sendto", path: address) {
            withUnsafePointer(to: &addr) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }

    /// The notify message: one line per state, no trailing newline.
    public static func render(_ states: [NotifyState], monotonicMicroseconds: UInt64) -> String {
        states.map { render($0, monotonicMicroseconds: monotonicMicroseconds) }.joined(separator: "\n")
    }

    static func render(_ state: NotifyState, monotonicMicroseconds: UInt64) -> String {
        switch state {
        case .ready: return "READY=1"
        case .reloading: return "RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds)"
        case .stopping: return "STOPPING=1"
        case .status(let text): return "STATUS=" + singleLine(text)
        case .watchdog: return "WATCHDOG=1"
        case .mainPID(let pid): return "MAINPID=\(pid)"
        case .errno(let code): return "ERRNO=\(code)"
        }
    }

    /// A value that cannot break the line-based protocol (or be cut short by a C string).
    static func singleLine(_ text: String) -> String {
        String(text.compactMap { char -> Character? in
            if char == "\0" { return nil }
            return char.isNewline ? " " : char
        })
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    // MARK: watchdog

    /// The watchdog period from `$WATCHDOG_USEC`, or nil when there is none for this process.
    /// Send `.watchdog` at about half of it.
    public static func watchdogInterval() -> Duration? {
        parseWatchdog(usec: environment("WATCHDOG_USEC"), pid: environment("WATCHDOG_PID"), currentPID: getpid())
    }

    /// `sd_watchdog_enabled` rules: usec is a positive decimal below infinity; when `pid` is
    /// set it must be a valid pid equal to `currentPID`.
    public static func parseWatchdog(usec: String?, pid: String?, currentPID: Int32) -> Duration? {
        guard let usec, let micros = decimal(usec), micros > 0, micros < UInt64(Int64.max) else { return nil }
        if let pid {
            guard let parsed = decimal(pid), parsed > 0, parsed == UInt64(currentPID) else { return nil }
        }
        return .microseconds(Int64(micros))
    }

    // MARK: socket activation

    /// The fds systemd passed (`$LISTEN_FDS` for `$LISTEN_PID`), starting at 3. The environment
    /// is left alone; each fd gets `FD_CLOEXEC` so children never inherit it. Empty when none.
    public static func listenFDs() -> [Int32] {
        let count = crpod_sd_listen_fds(0)
        guard count > 0 else { return [] }
        let start = crpod_sd_listen_fds_start()
        let fds = Array(start..<(start + count))
        for fd in fds {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
        return fds
    }

    // MARK: journal

    /// True when stderr is the stream systemd connected to journald (`$JOURNAL_STREAM`), so log
    /// lines may use `<N>` level prefixes and skip the timestamp.
    public static func journalStreamIsStderr() -> Bool {
        guard let stream = environment("JOURNAL_STREAM").flatMap(parseJournalStream) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return stream.device == UInt64(info.st_dev) && stream.inode == UInt64(info.st_ino)
    }

    /// `"<st_dev>:<st_ino>"`, both decimal.
    public static func parseJournalStream(_ text: String) -> (device: UInt64, inode: UInt64)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = decimal(parts[0]), let inode = decimal(parts[1]) else { return nil }
        return (device, inode)
    }

    /// Sends one structured entry (`MESSAGE`, `PRIORITY`, custom fields) to journald. Values
    /// may hold newlines and any bytes. Without a journal socket libsystemd drops it quietly.
    public static func sendJournal(fields: [(String, String)]) throws(LinuxError) {
        let lines = try renderJournalFields(fields)
        let total = lines.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { storage.deallocate() }
        var vectors: [iovec] = []
        var offset = 0
        for line in lines {
            let slice = UnsafeMutableRawBufferPointer(rebasing: storage[offset..<(offset + line.count)])
            slice.copyBytes(from: line)
            vectors.append(iovec(iov_base: slice.baseAddress, iov_len: line.count))
            offset += line.count
        }
        let count = Int32(vectors.count)
        _ = try vectors.withUnsafeBufferPointer { buffer throws(LinuxError) in
            try shimCall("sd_journal_sendv") { crpod_sd_journal_sendv(buffer.baseAddress, count) }
        }
    }

    /// The `NAME=value` byte strings for `sd_journal_sendv`, after checking every name.
    public static func renderJournalFields(_ fields: [(String, String)]) throws(LinuxError) -> [[UInt8]] {
        guard !fields.isEmpty else {
            throw LinuxError.parse(file: "journal entry", line: nil, detail: "no fields")
        }
        var lines: [[UInt8]] = []
        for (name, value) in fields {
            guard isValidJournalFieldName(name) else {
                throw LinuxError.parse(
                    file: "journal field name", line: nil,
                    detail: "\"\(name)\" must be 1–64 of A–Z, 0–9, _, not starting with _ or a digit")
            }
            lines.append(Array("\(name)=\(value)".utf8))
        }
        return lines
    }

    /// journald's rule: 1–64 characters of `A–Z 0–9 _`, first one neither `_` (trusted fields)
    /// nor a digit.
    public static func isValidJournalFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, first != UInt8(ascii: "_") else { return false }
        guard !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return bytes.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
        }
    }

    // MARK: helpers

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Only ASCII digits: no sign, no spaces (Swift's `UInt64("+5")` would accept a sign).
    static func decimal(_ text: some StringProtocol) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return UInt64(text)
    }
}
