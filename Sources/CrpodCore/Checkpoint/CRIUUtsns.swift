/// A UTS namespace's names as CRIU saved them (`utsns_entry`, images/utsns.proto:
/// `required string nodename = 1; required string domainname = 2`). Decoded leniently as
/// UTF-8 (invalid bytes become U+FFFD); `CRIUUtsns.rewrite` keeps the original bytes.
public struct CRIUUtsnsEntry: Sendable, Equatable, Codable {
    public var nodename: String
    public var domainname: String

    public init(nodename: String, domainname: String) {
        self.nodename = nodename
        self.domainname = domainname
    }
}

/// Reads and rewrites `utsns-<id>.img`: the common and utsns magics, one 4-byte
/// little-endian length, one `utsns_entry` (criu/uts_ns.c writes `uname()`'s nodename and
/// domainname with `pb_write_one`).
///
/// Why rewrite: when the UTS namespace is joined at restore (a pod member whose pod shares
/// uts), CRIU's `prepare_utsns` still writes the image's names into it through
/// `/proc/sys/kernel/{hostname,domainname}`, so the target pod takes the source pod's
/// hostname — observed even when the restore then failed. Rewriting the nodename to the
/// target's keeps it. The image cannot simply be dropped: `pb_read_one` on a missing image
/// fails the restore.
public enum CRIUUtsns {
    /// The name prefix of the image (`utsns-%u.img`, criu/image-desc.c).
    public static let namePrefix = "utsns-"

    /// Whether `name` (a bare file name or a path) is a `utsns-<id>.img`.
    public static func isUtsnsImage(_ name: String) -> Bool {
        CRIUImageName.id(of: name, prefix: namePrefix) != nil
    }

    public static func decode(_ bytes: [UInt8], image: String = "utsns.img") throws -> CRIUUtsnsEntry {
        let parsed = try Parsed(bytes, image: image)
        return CRIUUtsnsEntry(
            nodename: String(decoding: bytes[parsed.nodename], as: UTF8.self),
            domainname: String(decoding: bytes[parsed.domainname], as: UTF8.self))
    }

    /// The image with `nodename` (and `domainname`, when given) replaced. The magics, the
    /// kept name's exact bytes, unknown fields and anything after the entry are preserved;
    /// the length word is recomputed. Fields come out as nodename, domainname, then unknown
    /// ones in their original order.
    ///
    /// Names are not validated: the kernel limit is 64 bytes (`__NEW_UTS_LEN`) and writing
    /// a longer one through the sysctl truncates it, as does a NUL (CRIU uses `strlen`).
    /// Pass the target namespace's own names, which the kernel already bounds.
    public static func rewrite(
        _ bytes: [UInt8], nodename: String, domainname: String? = nil, image: String = "utsns.img"
    ) throws -> [UInt8] {
        let parsed = try Parsed(bytes, image: image)
        let keptDomain = domainname.map { Array($0.utf8) } ?? Array(bytes[parsed.domainname])
        var body = ProtobufWriter.lengthDelimited(1, Array(nodename.utf8))
        body += ProtobufWriter.lengthDelimited(2, keptDomain)
        for field in parsed.otherFields {
            body += bytes[field]
        }
        guard let length = UInt32(exactly: body.count) else {
            throw CheckpointProblem.malformedImage(
                image: image, offset: parsed.lengthOffset, reason: "rewritten entry of \(body.count) bytes is too long")
        }
        return Array(bytes[..<parsed.lengthOffset]) + ProtobufWriter.word(length) + body
            + Array(bytes[parsed.entryEnd...])
    }

    /// Where the parts of a utsns image are.
    private struct Parsed {
        /// The offset of the entry's length word (just after the magics).
        var lengthOffset: Int
        /// The end of the entry: trailing bytes start here.
        var entryEnd: Int
        /// The payloads of the last nodename and domainname fields (protobuf: last one wins).
        var nodename: Range<Int>
        var domainname: Range<Int>
        /// Whole byte ranges (key included) of fields other than 1 and 2.
        var otherFields: [Range<Int>]

        init(_ bytes: [UInt8], image: String) throws {
            lengthOffset = try CRIUImage.payloadStart(bytes, image: image, head: CRIUMagic.common, magic: CRIUMagic.utsns)
            var reader = try CRIUImage.entry(bytes, from: lengthOffset, image: image)
            entryEnd = reader.end
            var names: [UInt64: Range<Int>] = [:]
            otherFields = []
            while !reader.isAtEnd {
                let fieldStart = reader.offset
                guard let (number, value) = try reader.nextField() else { break }
                if number == 1 || number == 2 {
                    names[number] = try reader.bytesRange(value, field: number)
                } else {
                    otherFields.append(fieldStart..<reader.offset)
                }
            }
            guard let nodename = names[1], let domainname = names[2] else {
                let missing = names[1] == nil ? "nodename (field 1)" : "domainname (field 2)"
                throw CheckpointProblem.malformedImage(image: image, offset: lengthOffset, reason: "utsns_entry lacks \(missing)")
            }
            self.nodename = nodename
            self.domainname = domainname
        }
    }
}
