import Foundation
import Testing
@testable import CrpodArchive

/// L0: SHA-256 through the OpenSSL shim against the FIPS 180-2 vectors.
@Suite("SHA256Hasher")
struct SHA256Tests {
    static let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    @Test func knownVectors() throws {
        #expect(try SHA256Hasher.hash([]) == Self.empty)
        #expect(try SHA256Hasher.hash(Array("abc".utf8)) == Self.abc)
        #expect(try SHA256Hasher.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func incrementalUpdatesMatchOneShotAndFinalizeIsStable() throws {
        let hasher = try SHA256Hasher()
        hasher.update(Array("a".utf8))
        hasher.update([])
        hasher.update(Array("bc".utf8))
        #expect(try hasher.finalize() == Self.abc)
        hasher.update(Array("ignored".utf8))
        #expect(try hasher.finalize() == Self.abc)
    }

    @Test func hashesFilesAcrossChunks() throws {
        try withTempDir { dir throws in
            let bytes = patterned(3 << 20 + 17)
            try put("\(dir)/big", bytes)
            try put("\(dir)/empty", [UInt8]())
            #expect(try SHA256Hasher.hash(file: "\(dir)/big") == SHA256Hasher.hash(bytes))
            #expect(try SHA256Hasher.hash(file: "\(dir)/empty") == Self.empty)
            let error = archiveError { _ = try SHA256Hasher.hash(file: "\(dir)/missing") }
            #expect(error?.description.contains("\(dir)/missing") == true)
        }
    }
}
