import Foundation
import Testing
@testable import CrpodArchive

/// L1: image layers unpacked in order — OCI whiteouts, opaque directories, and the hostile
/// layers the store must refuse (path escapes, writes and whiteouts through a lower layer's symlink).
@Suite("ImageLayers.unpack")
struct ImageLayerTests {
    /// Each layer's root entry mode (nil: none), and the root's mode after unpacking.
    static let rootModeCases: [([UInt32?], UInt32)] = [([0o555], 0o555), ([0o700, nil], 0o700), ([0o555, 0o750], 0o750), ([nil], 0o755), ([0o6755], 0o755)]

    /// Writes each layer as a tar and unpacks them into `<dir>/rootfs`.
    private func unpack(_ layers: [[TarMember]], in dir: String, filter: TarFilter = .none) throws {
        var paths: [String] = []
        for (index, members) in layers.enumerated() {
            let path = "\(dir)/layer\(index).tar"
            try writeTar(path, members, filter: filter)
            paths.append(path)
        }
        try mkdirs("\(dir)/rootfs")
        try ImageLayers.unpack(layers: paths, into: "\(dir)/rootfs")
    }

    @Test("later layers replace files, .wh.NAME deletes and .wh..wh..opq empties what lower layers put there")
    func whiteoutsApply() throws {
        try withTempDir { dir throws in
            try unpack([
                [.dir("etc"), .file("etc/keep", "1"), .file("etc/gone", "1"), .dir("opt"), .file("opt/old", "1"),
                 .dir("opt/sub"), .file("opt/sub/deep", "1"), .file("bin", "old")],
                [.file("etc/keep", "2"), .file("etc/.wh.gone", ""), .dir("opt"), .file("opt/new", "2"), .file("opt/.wh..wh..opq", ""),
                 .file(".wh.bin", "")],
            ], in: dir, filter: .gzip)
            let root = "\(dir)/rootfs"
            #expect(fileBytes("\(root)/etc/keep") == Array("2".utf8))
            #expect(lstatInfo("\(root)/etc/gone") == nil)
            #expect(try listing("\(root)/opt") == ["new"], "the opaque marker keeps only this layer's entries")
            #expect(lstatInfo("\(root)/bin") == nil)
            #expect(lstatInfo("\(root)/etc/.wh.gone") == nil && lstatInfo("\(root)/opt/.wh..wh..opq") == nil, "markers are not written")
            #expect(permissions(root) == 0o755)
        }
    }

    @Test("the root entry (./) of the topmost layer that has one sets the root's mode, without setuid/setgid; without one it stays 0755",
          arguments: rootModeCases)
    func rootEntrySetsRootMode(_ modes: [UInt32?], _ expected: UInt32) throws {
        try withTempDir { dir throws in
            try unpack(modes.enumerated().map { index, mode in (mode.map { [TarMember.dir("./", mode: $0)] } ?? []) + [.file("f\(index)", "x")] }, in: dir)
            #expect(permissions("\(dir)/rootfs") == expected)
        }
    }

    @Test("a member climbing out with .. or an absolute name is refused and writes nothing outside", arguments: ["../escape", "/escape", "a/../../escape"])
    func pathEscapeRefused(_ name: String) throws {
        try withTempDir { dir throws in
            let error = archiveError { try unpack([[.file(name, "x")]], in: dir) }
            guard case .unsafeMemberName? = error else { Issue.record("expected unsafeMemberName, got \(String(describing: error))"); return }
            #expect(lstatInfo("\(dir)/escape") == nil && lstatInfo("/escape") == nil)
        }
    }

    @Test("a file, hard link or whiteout through a lower layer's symlink is refused; the symlink's target is untouched")
    func symlinkTricksRefused() throws {
        try withTempDir { dir throws in
            try mkdirs("\(dir)/outside")
            try put("\(dir)/outside/victim", "keep")
            let lower: [TarMember] = [.symlink("evil", to: "\(dir)/outside")]
            for (index, upper) in [[TarMember.file("evil/pwned", "x")], [.hardlink("link", to: "evil/victim")], [.file("evil/.wh.victim", "")]].enumerated() {
                let work = "\(dir)/case\(index)"
                try mkdirs(work)
                let error = archiveError { try unpack([lower, upper], in: work) }
                #expect(error != nil, "case \(index) must be refused")
                #expect(fileBytes("\(dir)/outside/victim") == Array("keep".utf8), "case \(index): victim intact")
                #expect(try listing("\(dir)/outside") == ["victim"], "case \(index): nothing written outside")
                if case .unsafeWhiteout? = error { #expect(index == 2) }
            }
        }
    }

    @Test("a device in a layer is refused; a .wh. marker naming nothing is refused")
    func oddMembersRefused() throws {
        try withTempDir { dir throws in
            try mkdirs("\(dir)/a")
            let device = archiveError { try unpack([[TarMember(name: "dev/null", kind: .characterDevice(major: 1, minor: 3))]], in: "\(dir)/a") }
            guard case .memberTypeRefused? = device else { Issue.record("device: \(String(describing: device))"); return }
            try mkdirs("\(dir)/b")
            let marker = archiveError { try unpack([[.file(".wh..wh.x", "")]], in: "\(dir)/b") }
            guard case .unsafeWhiteout? = marker else { Issue.record("marker: \(String(describing: marker))"); return }
        }
    }

    @Test("diffID hashes the decompressed stream")
    func diffIDOfCompressedLayer() throws {
        try withTempDir { dir throws in
            try writeTar("\(dir)/plain.tar", [.file("a", "hello")])
            try writeTar("\(dir)/packed.tar.gz", [.file("a", "hello")], filter: .gzip)
            let plain = try SHA256Hasher.hash(file: "\(dir)/plain.tar")
            #expect(try ImageLayers.diffID(of: "\(dir)/plain.tar") == "sha256:" + plain)
            #expect(try ImageLayers.diffID(of: "\(dir)/packed.tar.gz") == "sha256:" + plain)
        }
    }
}
