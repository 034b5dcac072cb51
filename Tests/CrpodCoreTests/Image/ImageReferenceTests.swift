import Foundation
import Testing
@testable import CrpodCore

@Suite("image references, OCI documents and the store's selection rules")
struct ImageReferenceTests {
    static let hexA = String(repeating: "a", count: 64)

    @Test("references parse into name, tag and digest", arguments: [
        ("busybox", "busybox", "latest", nil),
        ("busybox:1.36", "busybox", "1.36", nil),
        ("localhost/busybox:it", "localhost/busybox", "it", nil),
        ("registry.example:5000/team/app:v1", "registry.example:5000/team/app", "v1", nil),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app", "latest", nil),
        ("app@sha256:\(hexA)", "app", nil, hexA),
        ("app:v2@sha256:\(hexA)", "app", "v2", hexA),
        ("a__b--c/d.e", "a__b--c/d.e", "latest", nil),
    ] as [(String, String, String?, String?)])
    func parses(_ text: String, name: String, tag: String?, digest: String?) throws {
        let reference = try ImageReference.parse(text)
        #expect(reference.name == name)
        #expect(reference.effectiveTag == tag)
        #expect(reference.digest?.hex == digest)
        #expect(try ImageReference.parse(reference.description) == reference || reference.tag == nil)
    }

    @Test("bad references are refused with the reason", arguments: [
        ("", "empty"), ("Busybox", "lower-case"), ("app:", "tag"), ("app:-x", "tag"), ("app@sha256:abc", "digest"),
        ("app@md5:\(String(repeating: "a", count: 32))", "digest"), ("a//b", "lower-case"), ("-a", "lower-case"),
        ("host:port/app", "port"), ("a/b_", "lower-case"), ("a/../b", "lower-case"),
    ])
    func refused(_ text: String, reason: String) {
        #expect {
            try ImageReference.parse(text)
        } throws: { error in
            guard case let .invalidName(_, what, detail) = error as? CoreError else { return false }
            return what == "image reference" && detail.contains(reason)
        }
    }

    @Test("matching: names equal, tag latest by default, digests compared when both have one")
    func matching() throws {
        let stored = try ImageReference.parse("localhost/busybox:latest")
        #expect(try ImageReference.parse("localhost/busybox").matches(stored))
        #expect(!(try ImageReference.parse("localhost/busybox:1").matches(stored)))
        #expect(!(try ImageReference.parse("busybox").matches(stored)))
        #expect(try ImageReference.parse("localhost/busybox@sha256:\(Self.hexA)").matches(stored))
    }

    static func descriptor(_ type: String, _ hexDigit: Character, platform: OCIPlatform? = nil, ref: String? = nil) -> OCIDescriptor {
        OCIDescriptor(mediaType: type, digest: ImageDigest(hex: String(repeating: hexDigit, count: 64))!, size: 10,
                      annotations: ref.map { [OCILayout.refNameAnnotation: $0] }, platform: platform)
    }

    @Test("the manifest for this platform is chosen from an index; none offered is an error listing what was")
    func manifestSelection() throws {
        let amd = Self.descriptor(OCIMediaType.manifest, "a", platform: OCIPlatform(architecture: "amd64", os: "linux"))
        let arm = Self.descriptor(OCIMediaType.manifest, "b", platform: OCIPlatform(architecture: "arm64", os: "linux"))
        let host = OCIPlatform(architecture: "amd64", os: "linux")
        #expect(try ImageSelection.manifest(in: OCIIndex(manifests: [arm, amd]), platform: host, source: "i") == amd)
        #expect(try ImageSelection.manifest(in: OCIIndex(manifests: [arm]), platform: host, source: "i") == arm, "a single manifest is taken as is")
        #expect(throws: CoreError.invalidImage(source: "i", reason: "2 manifests and none for linux/s390x (offered: linux/arm64, linux/amd64)")) {
            try ImageSelection.manifest(in: OCIIndex(manifests: [arm, amd]), platform: OCIPlatform(architecture: "s390x", os: "linux"), source: "i")
        }
        let named = Self.descriptor(OCIMediaType.manifest, "c", ref: "v2")
        #expect(try ImageSelection.manifest(in: OCIIndex(manifests: [amd, named]), platform: host, source: "i", name: "localhost/app:v2") == named)
    }

    @Test("a manifest and config must agree before any layer is read", arguments: [
        (0, "diff_ids"), (1, "media type"), (2, "not linux"), (3, "layers (1 to"),
    ])
    func validation(_ variant: Int, _ reason: String) throws {
        let layer = Self.descriptor(variant == 1 ? "application/x-foo" : OCIMediaType.layerGzip, "d")
        let manifest = OCIManifest(config: Self.descriptor(OCIMediaType.config, "e"), layers: variant == 3 ? [] : [layer])
        let json = """
            {"os": "\(variant == 2 ? "windows" : "linux")", "rootfs": {"type": "layers", "diff_ids": \(variant == 0 ? "[]" : "[\"sha256:\(Self.hexA)\"]")}}
            """
        let config = try OCIDocuments.decode(OCIImageConfig.self, from: Array(json.utf8), source: "config")
        #expect {
            try ImageSelection.validate(manifest: manifest, config: config, source: "m")
        } throws: { error in
            guard case let .invalidImage(_, detail) = error as? CoreError else { return false }
            return detail.contains(reason)
        }
    }

    @Test("documents: unknown fields are ignored, a bad digest names its path, docker-save names must stay relative")
    func documents() throws {
        let index = try OCIDocuments.decode(OCIIndex.self, from: Array(#"{"schemaVersion":2,"x":1,"manifests":[]}"#.utf8), source: "index.json")
        #expect(index.manifests.isEmpty)
        #expect {
            try OCIDocuments.decode(OCIDescriptor.self, from: Array(#"{"mediaType":"m","digest":"sha256:zz","size":1}"#.utf8), source: "d")
        } throws: { error in "\(error)".contains("digest") && "\(error)".contains("not a sha256 digest") }
        #expect(try ImageSelection.dockerMember("./abc/layer.tar", source: "m") == "abc/layer.tar")
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", ""] {
            #expect(throws: CoreError.self) { try ImageSelection.dockerMember(bad, source: "m") }
        }
        #expect(try ImageSelection.names(given: nil, recorded: ["latest", "localhost/a:1", "localhost/a:1"], source: "s").map(\.description) == ["localhost/a:1"])
    }
}
