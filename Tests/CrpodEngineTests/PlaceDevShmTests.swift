import Foundation
import Testing
import CrpodCore
import CrpodLinux
@testable import CrpodEngine

/// L1: `Engine.placeDevShm` — where a restored container's /dev/shm bind comes from (the pod's
/// shared shm directory, or a fresh one of its own) and that it is seeded from the archive's
/// devshm-checkpoint.tar; a private tmpfs /dev/shm is left alone. Temp trees, no root.
@Suite("Engine.placeDevShm")
struct PlaceDevShmTests {
    static let warningForA = "/dev/shm: the pod's own a kept; the archive's copies were not restored"

    /// A spec as a checkpoint carries it: /dev/shm between two other mounts, the IPC namespace
    /// joined by path (a pod member) or private.
    static func spec(devShm: JSONValue, ipcPath: String?) throws -> OCISpec {
        var ipc: JSONValue = ["type": "ipc"]
        if let ipcPath { ipc["path"] = .string(ipcPath) }
        return try OCISpec(json: [
            "mounts": [
                ["destination": "/proc", "type": "proc", "source": "proc"],
                devShm,
                ["destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid"]],
            ],
            "linux": ["namespaces": [["type": "mount"], ipc]],
        ])
    }

    static let checkpointedBind: JSONValue = [
        "destination": "/dev/shm", "type": "bind", "source": "/var/run/containers/storage/overlay-containers/x/userdata/shm",
        "options": ["bind", "rprivate", "nosuid", "noexec", "nodev"],
    ]

    /// The spec with /dev/shm's source replaced, nothing else.
    static func withDevShmSource(_ spec: OCISpec, _ source: String) throws -> OCISpec {
        var mounts = spec.json["mounts"]?.arrayValue ?? []
        let index = try #require(mounts.firstIndex { $0["destination"] == "/dev/shm" })
        mounts[index]["source"] = .string(source)
        var expected = spec
        expected.json.setValue(.array(mounts), atPath: ["mounts"])
        return expected
    }

    enum Case: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Joins the pod's IPC namespace, and the pod has a shm directory: that one.
        case podShm
        /// The same with an `rbind` option on a mount of type "none": still a bind.
        case podShmRbindNone
        /// Every other way: a fresh directory of the container's own.
        case noPod, podWithoutShm, podShmGone, privateIPC

        var testDescription: String { rawValue }
        var usesPodShm: Bool { self == .podShm || self == .podShmRbindNone }

        func inputs(_ box: DevShmBox) throws -> (OCISpec, PodRecord?) {
            var pod = podRecord(id: fakeID("p1"), name: "web")
            pod.shmDirectory = box.shm
            var bind = checkpointedBind
            if self == .podShmRbindNone {
                bind["type"] = "none"
                bind["options"] = ["rbind", "nosuid"]
            }
            let spec = try PlaceDevShmTests.spec(devShm: bind, ipcPath: self == .privateIPC ? nil : "/proc/4242/ns/ipc")
            switch self {
            case .noPod: return (spec, nil)
            case .podWithoutShm: pod.shmDirectory = nil
            case .podShmGone: pod.shmDirectory = box.dir + "/gone/shm"
            default: break
            }
            return (spec, pod)
        }
    }

    static func archive(_ box: DevShmBox, spec: OCISpec) throws -> ImportedArchive {
        ImportedArchive(path: box.dir + "/checkpoint.tar", directory: box.archiveDirectory, facts: ArchiveFacts(),
                        config: try CheckpointConfig(json: [:]), spec: spec, deletedFiles: [])
    }

    static func place(_ box: DevShmBox, _ spec: inout OCISpec, pod: PodRecord?, containerDirectory: String) async throws -> [String] {
        let archive = try archive(box, spec: spec)
        var placed = spec
        let warnings = try await box.engine.withRollback("place test") { rollback in
            try await box.engine.placeDevShm(&placed, archive: archive, pod: pod, containerDirectory: containerDirectory, rollback: rollback)
        }
        spec = placed
        return warnings
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    @Test(arguments: Case.allCases)
    func aBindGetsASourceSeededFromTheArchive(_ placement: Case) async throws {
        try await DevShmBox.run { box in
            try box.putInShm(["a": "live a"])
            let containerDirectory = box.dir + "/lib/containers/c1"
            let (original, pod) = try placement.inputs(box)
            var spec = original
            let warnings = try await Self.place(box, &spec, pod: pod, containerDirectory: containerDirectory)
            let fresh = containerDirectory + "/mounts/dev-shm"
            if placement.usesPodShm {
                #expect(spec == (try Self.withDevShmSource(original, box.shm)))
                #expect(box.files(box.shm) == ["a": "live a", "sem.b": "archive b", "d/x": "archive x"])
                #expect(warnings == [Self.warningForA])
                #expect(!Files.exists(containerDirectory + "/mounts"))
            } else {
                #expect(spec == (try Self.withDevShmSource(original, fresh)))
                #expect(Self.mode(fresh) == 0o1777)
                #expect(box.files(fresh) == DevShmBox.archived)
                #expect(try FileManager.default.contentsOfDirectory(atPath: containerDirectory + "/mounts") == ["dev-shm"], "no incoming-*")
                #expect(warnings.isEmpty)
                #expect(box.files(box.shm) == ["a": "live a"], "the pod's shm is not touched")
            }
            #expect(box.shmSiblings == ["shm"])
            #expect(box.journalIsSettled)
        }
    }

    @Test("an archive without devshm-checkpoint.tar: the source is placed, nothing seeded")
    func noTarPlacesWithoutSeeding() async throws {
        try await DevShmBox.run { box in
            try FileManager.default.removeItem(atPath: box.tar)
            let containerDirectory = box.dir + "/lib/containers/c1"
            var spec = try Self.spec(devShm: Self.checkpointedBind, ipcPath: nil)
            let original = spec
            let warnings = try await Self.place(box, &spec, pod: nil, containerDirectory: containerDirectory)
            let fresh = containerDirectory + "/mounts/dev-shm"
            #expect(warnings.isEmpty)
            #expect(spec == (try Self.withDevShmSource(original, fresh)))
            #expect(Self.mode(fresh) == 0o1777)
            #expect(try FileManager.default.contentsOfDirectory(atPath: fresh).isEmpty)
        }
    }

    @Test("a private tmpfs /dev/shm is left alone: CRIU carries its content")
    func aTmpfsIsLeftAlone() async throws {
        try await DevShmBox.run { box in
            try box.putInShm(["a": "live a"])
            var pod = podRecord(id: fakeID("p1"), name: "web")
            pod.shmDirectory = box.shm
            let tmpfs: JSONValue = [
                "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            ]
            var spec = try Self.spec(devShm: tmpfs, ipcPath: "/proc/4242/ns/ipc")
            let original = spec
            let containerDirectory = box.dir + "/lib/containers/c1"
            let warnings = try await Self.place(box, &spec, pod: pod, containerDirectory: containerDirectory)
            #expect(warnings.isEmpty)
            #expect(spec == original)
            #expect(box.files(box.shm) == ["a": "live a"])
            #expect(!Files.exists(containerDirectory))
            #expect(box.shmSiblings == ["shm"])
        }
    }
}
