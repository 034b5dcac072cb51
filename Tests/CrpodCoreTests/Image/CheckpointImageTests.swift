import Foundation
import Testing
@testable import CrpodCore

@Suite("checkpoint image annotations (podman's and CRI-O's keys)")
struct CheckpointImageAnnotationTests {
    @Test("every known fact is written under both tools' keys; runtime keys are podman's only; missing facts are left out")
    func annotationsFromFacts() {
        let full = CheckpointImage.annotations(.init(
            name: "counter", rootfsImageName: "localhost/busybox:it", rootfsImageID: "ab12", runtimeName: "runc",
            runtimeVersion: "1.1.5", criuVersion: "4.2.1"))
        #expect(full == [
            "io.podman.annotations.checkpoint.name": "counter",
            "io.podman.annotations.checkpoint.rawImageName": "localhost/busybox:it",
            "io.podman.annotations.checkpoint.rootfsImageName": "localhost/busybox:it",
            "io.podman.annotations.checkpoint.rootfsImageID": "ab12",
            "io.podman.annotations.checkpoint.runtime.name": "runc",
            "io.podman.annotations.checkpoint.runtime.version": "1.1.5",
            "io.podman.annotations.checkpoint.criu.version": "4.2.1",
            "io.kubernetes.cri-o.annotations.checkpoint.name": "counter",
            "io.kubernetes.cri-o.annotations.checkpoint.rawImageName": "localhost/busybox:it",
            "io.kubernetes.cri-o.annotations.checkpoint.rootfsImageName": "localhost/busybox:it",
            "io.kubernetes.cri-o.annotations.checkpoint.rootfsImageID": "ab12",
            "io.kubernetes.cri-o.annotations.checkpoint.criu.version": "4.2.1",
        ])
        #expect(CheckpointImage.annotations(.init(name: "c")) == [
            "io.podman.annotations.checkpoint.name": "c", "io.kubernetes.cri-o.annotations.checkpoint.name": "c",
        ])
    }

    @Test("a checkpoint image is recognised by either tool's name key; other images are not", arguments: [
        (["io.podman.annotations.checkpoint.name": "a"], "a"),
        (["io.kubernetes.cri-o.annotations.checkpoint.name": "b"], "b"),
        (["io.podman.annotations.checkpoint.name": "a", "io.kubernetes.cri-o.annotations.checkpoint.name": "b"], "a"),
        (["org.opencontainers.image.ref.name": "x"], nil),
        ([:], nil),
    ] as [([String: String], String?)])
    func recognised(_ annotations: [String: String], name: String?) {
        #expect(CheckpointImage.containerName(annotations) == name)
    }

    @Test("a manifest's annotations survive encoding; a manifest without them encodes no key")
    func manifestAnnotations() throws {
        let digest = try #require(ImageDigest(hex: String(repeating: "a", count: 64)))
        let descriptor = OCIDescriptor(mediaType: OCIMediaType.config, digest: digest, size: 2)
        let marked = OCIManifest(config: descriptor, layers: [], annotations: [CheckpointImage.podmanName: "c"])
        let decoded = try OCIDocuments.decode(OCIManifest.self, from: try OCIDocuments.encode(marked), source: "test")
        #expect(decoded.annotations == marked.annotations)
        let plain = String(decoding: try OCIDocuments.encode(OCIManifest(config: descriptor, layers: [])), as: UTF8.self)
        #expect(!plain.contains("annotations"))
    }
}
