#if canImport(Glibc)
import Glibc
#endif
import CShims
import CrpodLinux

/// Incremental SHA-256 (nettle, through CShims). Not Sendable: one owner, one task.
public final class SHA256Hasher {
    private let context: OpaquePointer
    private var digest: String?
    private var failed = false

    /// Fails only when the digest context cannot be allocated.
    public init() throws(ArchiveError) {
        guard let context = crpod_sha256_new() else { throw ArchiveError.digest(operation: "init") }
        self.context = context
    }

    deinit { crpod_sha256_free(context) }

    /// Feeds bytes. Ignored once `finalize()` has run.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard digest == nil, let base = bytes.baseAddress, bytes.count > 0 else { return }
        if crpod_sha256_update(context, base, bytes.count) != 0 { failed = true }
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The lowercase hex digest. Calling it again returns the same value.
    public func finalize() throws(ArchiveError) -> String {
        if let digest { return digest }
        var out = [UInt8](repeating: 0, count: 32)
        let rc = out.withUnsafeMutableBufferPointer { crpod_sha256_final(context, $0.baseAddress) }
        guard rc == 0, !failed else { throw ArchiveError.digest(operation: "final") }
        let hex = Self.hex(out)
        digest = hex
        return hex
    }

    /// The digest of a byte array.
    public static func hash(_ bytes: [UInt8]) throws(ArchiveError) -> String {
        let hasher = try SHA256Hasher()
        hasher.update(bytes)
        return try hasher.finalize()
    }

    /// The digest of a file's content, read in 1 MiB chunks.
    public static func hash(file path: String) throws(ArchiveError) -> String {
        try hash(file: try ArchiveFile.open(path: path))
    }

    /// The digest of an opened file, read with pread in 1 MiB chunks (its offset is not
    /// moved). Stops with `.cancelled` once `cancellation` is set.
    public static func hash(file: OpenedFile, cancellation: CancellationFlag? = nil) throws(ArchiveError) -> String {
        let hasher = try SHA256Hasher()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { chunk.deallocate() }
        var offset: UInt64 = 0
        while true {
            if cancellation?.isCancelled == true { throw ArchiveError.cancelled(operation: "sha256", path: file.path) }
            let n = try io { () throws(LinuxError) in try file.read(into: chunk, at: offset) }
            if n == 0 { return try hasher.finalize() }
            offset += UInt64(n)
            hasher.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
