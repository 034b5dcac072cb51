import Foundation
import Testing
@testable import CrpodLinux

/// L0: rendering and parsing, no sockets, no environment.
@Suite("Systemd rendering and parsing")
struct SystemdPureTests {
    @Test(arguments: [
        (Systemd.NotifyState.ready, "READY=1"),
        (.reloading, "RELOADING=1\nMONOTONIC_USEC=123456789"),
        (.stopping, "STOPPING=1"),
        (.status("restoring pod web"), "STATUS=restoring pod web"),
        (.status("two\nlines\r\nand\rmore"), "STATUS=two lines and more"),
        (.status("nul\0byte"), "STATUS=nulbyte"),
        (.watchdog, "WATCHDOG=1"),
        (.mainPID(4242), "MAINPID=4242"),
        (.errno(2), "ERRNO=2"),
    ])
    func rendersOneState(state: Systemd.NotifyState, expected: String) {
        #expect(Systemd.render([state], monotonicMicroseconds: 123_456_789) == expected)
    }

    @Test func rendersStatesInOrderWithoutTrailingNewline() {
        #expect(Systemd.render([.status("starting"), .ready], monotonicMicroseconds: 0) == "STATUS=starting\nREADY=1")
        #expect(Systemd.render([], monotonicMicroseconds: 0) == "")
    }

    @Test(arguments: [
        (nil, nil, nil),
        ("", nil, nil),
        ("abc", nil, nil),
        ("0", nil, nil),
        ("-5", nil, nil),
        ("+5", nil, nil),
        (" 5", nil, nil),
        ("18446744073709551615", nil, nil),  // USEC_INFINITY
        ("30000000", nil, 30_000_000),
        ("30000000", "100", 30_000_000),  // WATCHDOG_PID equals our pid
        ("30000000", "101", nil),  // someone else's watchdog
        ("30000000", "0", nil),
        ("30000000", "x", nil),
        ("30000000", "", nil),
    ] as [(String?, String?, Int64?)])
    func watchdogTable(usec: String?, pid: String?, expectedMicros: Int64?) {
        let parsed = Systemd.parseWatchdog(usec: usec, pid: pid, currentPID: 100)
        #expect(parsed == expectedMicros.map { Duration.microseconds($0) })
    }

    @Test func journalStreamParsing() {
        let parsed = Systemd.parseJournalStream("64769:123456")
        #expect(parsed?.device == 64769 && parsed?.inode == 123_456)
        for bad in ["", "1", "1:", ":2", "1:2:3", "a:b", "-1:2", "1: 2"] {
            #expect(Systemd.parseJournalStream(bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: ["MESSAGE", "PRIORITY", "CRPOD_POD", "A", "X1_2", String(repeating: "A", count: 64)])
    func validJournalFieldNames(name: String) {
        #expect(Systemd.isValidJournalFieldName(name))
    }

    @Test(arguments: ["", "_PID", "1ABC", "message", "MESSAGE ", "MES-SAGE", "MÉSSAGE", "A=B", String(repeating: "A", count: 65)])
    func invalidJournalFieldNames(name: String) throws {
        #expect(!Systemd.isValidJournalFieldName(name))
        let error = try #require(throws: LinuxError.self) { try Systemd.sendJournal(fields: [(name, "x")]) }
        guard case .parse(file: "journal field name", _, _) = error else {
            Issue.record("unexpected \(error)")
            return
        }
    }

    @Test func journalFieldsRenderAsBytes() throws {
        let lines = try Systemd.renderJournalFields([("MESSAGE", "multi\nline"), ("PRIORITY", "6")])
        #expect(lines == [Array("MESSAGE=multi\nline".utf8), Array("PRIORITY=6".utf8)])
        #expect(throws: LinuxError.self) { try Systemd.renderJournalFields([]) }
    }
}

/// L1: real sockets and the real process environment. Every test here mutates process-wide state
/// (environment variables, fd 3), so they run one at a time and restore what they changed.
/// Real datagram sockets, addressed explicitly: nothing here changes the process environment or
/// its fds, so these tests are safe next to the suites that spawn processes in parallel.
@Suite("Systemd notify on real sockets")
struct SystemdEnvironmentTests {
    @Test(.enabled(if: getenv("NOTIFY_SOCKET") == nil, "this process runs under a service manager"))
    func notifyWithoutSocketIsNotAnError() throws {
        #expect(try Systemd.notify([.ready]) == false)
    }

    @Test func notifyToPathSocket() throws {
        let path = FileManager.default.temporaryDirectory.path + "/crpod-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        try withDatagramSocket(address: path) { socket in
            try Systemd.notify([.status("starting"), .ready], socket: path)
            try Systemd.notify([.stopping], socket: path)
            #expect(receive(socket) == "STATUS=starting\nREADY=1")
            #expect(receive(socket) == "STOPPING=1")
            #expect(receive(socket) == nil, "exactly two datagrams")
        }
    }

    @Test func notifyToAbstractSocketWithReload() throws {
        let name = "crpod-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try withDatagramSocket(address: "@" + name) { socket in
            let before = Systemd.monotonicMicroseconds()
            try Systemd.notify([.reloading], socket: "@" + name)
            let after = Systemd.monotonicMicroseconds()
            let lines = try #require(receive(socket)).split(separator: "\n")
            #expect(lines.first == "RELOADING=1")
            let stamp = try #require(lines.last.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) })
            #expect(lines.count == 2 && lines[1].hasPrefix("MONOTONIC_USEC="))
            #expect(before <= stamp && stamp <= after)
        }
    }

    @Test func notifyToMissingSocketThrows() throws {
        let error = try #require(throws: LinuxError.self) { try Systemd.notify([.ready], socket: "/nonexistent/crpod/notify.sock") }
        #expect(error.errno == .noSuchFileOrDirectory)
    }

    @Test(.enabled(if: getenv("LISTEN_FDS") == nil, "this process was socket-activated"))
    func noListenFDs() {
        #expect(Systemd.listenFDs() == [])
    }

    /// Without /run/systemd/journal/socket libsystemd drops the entry and reports success.
    @Test(.enabled(if: access("/run/systemd/journal/socket", F_OK) != 0, "a journal is running here"))
    func sendJournalWithoutJournalIsQuiet() throws {
        try Systemd.sendJournal(fields: [("MESSAGE", "crpod test\nsecond line"), ("PRIORITY", "6"), ("CRPOD_POD", "p1")])
    }
}

// MARK: fixtures


/// An AF_UNIX socket, bound to `address` when given (`@name` = abstract namespace).
private func makeSocket(type: Int32, address: String?) throws -> Int32 {
    let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
    try #require(fd >= 0)
    guard let address else { return fd }
    let result = withUnixAddress(address) { bind(fd, $0, $1) }
    try #require(result == 0, "bind \(address): errno \(errno)")
    return fd
}

private func connectUnix(_ fd: Int32, _ path: String) -> Int32 {
    withUnixAddress(path) { connect(fd, $0, $1) }
}

private func withUnixAddress<T>(_ address: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var storage = sockaddr_un()
    storage.sun_family = sa_family_t(AF_UNIX)
    var bytes = Array(address.utf8)
    let abstract = bytes.first == UInt8(ascii: "@")
    if abstract { bytes[0] = 0 }
    precondition(bytes.count < MemoryLayout.size(ofValue: storage.sun_path))
    withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
    // An abstract name's length is exact; a path's includes the terminating NUL.
    let length = MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1)
    return withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
    }
}

private func withDatagramSocket(address: String, _ body: (Int32) throws -> Void) throws {
    let fd = try makeSocket(type: Int32(SOCK_DGRAM.rawValue), address: address)
    defer { close(fd) }
    try body(fd)
}

/// One queued datagram, or nil when none is waiting (sd_notify's send completes before it returns).
private func receive(_ fd: Int32) -> String? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
    guard count >= 0 else { return nil }
    return String(decoding: buffer[..<count], as: UTF8.self)
}


/// Manual end-to-end check, off by default: run the test binary under `systemd-socket-activate`
/// with CRPOD_SOCKET_ACTIVATION_CHECK=1 and connect a client; it answers with what listenFDs saw.
@Suite("Systemd socket activation (manual)")
struct SystemdSocketActivationCheck {
    @Test(.enabled(if: getenv("CRPOD_SOCKET_ACTIVATION_CHECK") != nil, "only under systemd-socket-activate"))
    func answersOnActivatedSocket() throws {
        let fds = Systemd.listenFDs()
        try #require(fds == [3])
        let client = accept(fds[0], nil, nil)
        try #require(client >= 0)
        defer { close(client) }
        let reply = Array("listenFDs=\(fds) cloexec=\(fcntl(3, F_GETFD) & FD_CLOEXEC != 0) pid=\(getpid())\n".utf8)
        #expect(write(client, reply, reply.count) == reply.count)
    }
}
