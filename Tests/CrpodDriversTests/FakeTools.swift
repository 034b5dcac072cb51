import Foundation
import SystemPackage

/// A temporary directory of fake tools: bash scripts that record each invocation's argv (one
/// line per call, arguments separated by tabs) to `<name>.argv` next to themselves, then run a
/// canned body. Every test makes its own, so tests can run in parallel.
final class FakeTools: Sendable {
    let directory: String

    init() throws {
        var template = Array("\(NSTemporaryDirectory())/crpod-drivers-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw Errno(rawValue: errno) }
        directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Writes an executable script `name` that records argv and runs `body` (bash). In `body`,
    /// `$LOG` is the value of `--log` and `$VERB` the first non-option word, runc-style.
    @discardableResult
    func script(_ name: String, body: String) throws -> String {
        let text = """
            #!/bin/bash
            (IFS=$'\\t'; printf '%s\\n' "$*") >> "$(dirname "$0")/\(name).argv"
            LOG=""; VERB=""
            while [ $# -gt 0 ]; do
              case "$1" in
                --root|--criu|--log-format) shift 2 ;;
                --log) LOG="$2"; shift 2 ;;
                -*) shift ;;
                *) VERB="$1"; shift; break ;;
              esac
            done
            \(body)

            """
        try writeFile(path(name), text, mode: 0o755)
        return path(name)
    }

    /// A script printing `stdout` and `stderr` verbatim and exiting with `status`.
    @discardableResult
    func canned(_ name: String, stdout: String = "", stderr: String = "", status: Int32 = 0) throws -> String {
        try writeFile(path("\(name).out"), stdout, mode: 0o644)
        try writeFile(path("\(name).err"), stderr, mode: 0o644)
        return try script(
            name,
            body: """
                cat "$(dirname "$0")/\(name).out"
                cat "$(dirname "$0")/\(name).err" >&2
                exit \(status)
                """)
    }

    /// Each recorded invocation of `name`, as its argument list.
    func invocations(_ name: String) throws -> [[String]] {
        let text = try String(contentsOfFile: path("\(name).argv"), encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map {
            $0.isEmpty ? [] : $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// Writes with O_CLOEXEC so a child spawned concurrently by another test cannot keep the
    /// script open for writing (which would make exec fail with ETXTBSY).
    func writeFile(_ path: String, _ text: String, mode: UInt32) throws {
        let fd = try FileDescriptor.open(
            path, .writeOnly, options: [.create, .truncate, .closeOnExec],
            permissions: FilePermissions(rawValue: mode))
        defer { try? fd.close() }
        _ = try fd.writeAll(Array(text.utf8))
    }

    func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }
}
