import Foundation
import Testing
import CrpodCore
import CrpodDrivers
import CrpodLinux
import SystemPackage
@testable import CrpodEngine

/// A container engine that records every call and fails `restore` when told to.
final class RecordingEngine: ContainerEngine, @unchecked Sendable {
    enum Call: Equatable {
        case restore(id: String, options: RestoreOptions)
        case checkpoint(id: String, options: CheckpointOptions)
        case delete(id: String, force: Bool)
        case state(id: String)
        case kill(id: String, signal: Int32, all: Bool)
    }

    var kind: EngineKind { .runc }

    private let lock = NSLock()
    private var recorded: [Call] = []
    let failRestore: Bool

    init(failRestore: Bool = false) { self.failRestore = failRestore }

    var calls: [Call] { lock.withLock { recorded } }
    private func record(_ call: Call) { lock.withLock { recorded.append(call) } }

    func restore(id: String, options: RestoreOptions, stdio: FileDescriptor?, logPath: String) async throws {
        record(.restore(id: id, options: options))
        if failRestore {
            throw DriverError.toolFailed(tool: "runc", arguments: ["restore", id], status: .exited(1), stderrTail: "criu failed: (00.02) Error")
        }
    }

    func checkpoint(id: String, options: CheckpointOptions, logPath: String?) async throws { record(.checkpoint(id: id, options: options)) }
    func delete(id: String, force: Bool, logPath: String?) async throws { record(.delete(id: id, force: force)) }
    func state(id: String, logPath: String?) async throws -> RuntimeState? { record(.state(id: id)); return nil }
    func kill(id: String, signal: Int32, all: Bool, logPath: String?) async throws { record(.kill(id: id, signal: signal, all: all)) }
}

/// L1: the restore executor's engine stages against a recording engine on a temp root — the
/// recipe's image edits, the engine call with the recipe's options, the record; and on an
/// engine failure, the recipe's undo steps in reverse. No root, no runc.
@Suite("restore executor with a recording engine")
struct RestoreExecutorTests {
    struct Fixture {
        let engine: Engine
        let recorder: RecordingEngine
        let recipe: RestoreRecipe
        let record: ContainerRecord
        let images: String
    }

    static func fixture(_ dir: String, failRestore: Bool) throws -> Fixture {
        let recorder = RecordingEngine(failRestore: failRestore)
        var engine = Engine(settings: EngineSettings(root: dir + "/lib", runRoot: dir + "/run", runtimePath: nil, criuPath: nil, criuSource: nil,
                                                     cgroupParent: "/crpod-unit-test", helperDirectory: dir))
        engine.engineOverride = recorder
        try engine.store.ensureLayout()
        let id = ObjectID.generate().rawValue
        let images = dir + "/images"
        for name in ["core-1.img", "pstree.img", "ipcns-var-7.img", "ipcns-shm-7.img"] { try put(images + "/" + name, "x") }
        let plan = RestorePlan(containerName: "app", containerID: id, podID: "p", podName: "web", cgroupsPath: "/crpod-unit-test/" + id,
                               lsmProfile: "selinux:system_u:system_r:container_t:s0", dropIPCObjectImages: true)
        let recipe = RestoreRecipe.make(plan: plan, input: RestoreRecipeInput(
            containerDirectory: engine.store.containerDirectory(id), imageNames: try Files.listDirectory(images),
            tcpEstablished: true, timeLimit: .seconds(5)))
        let layout = recipe.layout
        let record = ContainerRecord(
            id: id, name: "app", podID: "p", podName: "web", rootfs: dir + "/base", bundle: layout.bundle,
            overlay: Mounts.Overlay(lower: dir + "/base", upper: layout.upper, work: layout.work, target: layout.rootfs),
            cgroupPath: plan.cgroupsPath, command: ["sh"], env: [], workdir: "/", logPath: layout.log, created: "now", state: "restoring")
        return Fixture(engine: engine, recorder: recorder, recipe: recipe, record: record, images: images)
    }

    /// What prepareRootfs registers and creates before the engine stages.
    static func prepare(_ fixture: Fixture, rollback: Rollback) throws {
        try fixture.engine.register(.containerDirectory, of: fixture.recipe, rollback: rollback)
        try Files.makeDirectories(fixture.recipe.layout.bundle, mode: 0o700)
        try fixture.engine.register(.rootfsMount, of: fixture.recipe, rollback: rollback)
    }

    @Test("a restore edits the images, calls the engine once with the recipe's options, saves the record")
    func success() async throws {
        try await withTempTree { dir in
            let fixture = try Self.fixture(dir, failRestore: false)
            let outcome = try await fixture.engine.withRollback("restore test") { rollback in
                try Self.prepare(fixture, rollback: rollback)
                return try await fixture.engine.restoreThroughEngine(fixture.recipe, record: fixture.record, images: fixture.images,
                                                                     stdio: nil, keepWork: false, rollback: rollback) { _ in }
            }
            let layout = fixture.recipe.layout
            var expected = RestoreOptions(imagePath: fixture.images, workPath: layout.restoreWork, bundle: layout.bundle, pidFile: layout.pidFile)
            expected.tcpEstablished = true
            expected.manageCgroupsMode = "soft"
            expected.lsmProfile = "selinux:system_u:system_r:container_t:s0"
            expected.timeLimit = .seconds(5)
            #expect(fixture.recorder.calls == [.restore(id: fixture.record.id, options: expected)])
            #expect(outcome.id == fixture.record.id && outcome.podName == "web")
            #expect(try Files.listDirectory(fixture.images).sorted() == ["core-1.img", "ipcns-var-7.img", "pstree.img"], "the SysV object image is dropped")
            #expect(try fixture.engine.store.container(fixture.record.id).state == "running")
            #expect(!Files.exists(layout.restoreWork), "CRIU's work directory is removed on success")
            #expect(((try? Files.listDirectory(dir + "/lib/journal")) ?? []).isEmpty)
        }
    }

    @Test("a failing engine call undoes the recipe's steps in reverse, leaving no record")
    func failureRunsTheRecipeUndo() async throws {
        try await withTempTree { dir in
            let fixture = try Self.fixture(dir, failRestore: true)
            let undone = UndoLog()
            let rollback = Rollback(operation: "restore test", journal: fixture.engine.journal) { undone.append($0) }
            await #expect(throws: EngineError.self) {
                do {
                    try Self.prepare(fixture, rollback: rollback)
                    _ = try await fixture.engine.restoreThroughEngine(fixture.recipe, record: fixture.record, images: fixture.images,
                                                                      stdio: nil, keepWork: false, rollback: rollback) { _ in }
                } catch {
                    await rollback.run()
                    throw error
                }
            }
            let expected: [UndoStep] = [.deleteRuntime(id: fixture.record.id, cgroup: fixture.record.cgroupPath),
                                        .unmount(fixture.recipe.layout.rootfs), .removeTree(fixture.recipe.layout.directory)]
            #expect(undone.steps == expected)
            #expect(fixture.recorder.calls.count == 1, "one restore, nothing after it")
            #expect((try? fixture.engine.store.container(fixture.record.id)) == nil)
        }
    }

    @Test("with the engine's own undo, the failed restore is followed by a forced delete and nothing is left")
    func failureDeletesThroughTheEngine() async throws {
        try await withTempTree { dir in
            let fixture = try Self.fixture(dir, failRestore: true)
            do {
                _ = try await fixture.engine.withRollback("restore test") { rollback in
                    try Self.prepare(fixture, rollback: rollback)
                    return try await fixture.engine.restoreThroughEngine(fixture.recipe, record: fixture.record, images: fixture.images,
                                                                         stdio: nil, keepWork: false, rollback: rollback) { _ in }
                }
                Issue.record("the restore should have failed")
            } catch let error as EngineError {
                #expect("\(error)".contains("criu failed"), "the engine's words survive: \(error)")
            }
            let id = fixture.record.id
            let calls = fixture.recorder.calls
            #expect(calls.count == 2 && calls.last == .delete(id: id, force: true), "restore, then a forced delete: \(calls)")
            if case .restore(id, _)? = calls.first {} else { Issue.record("the first call is the restore: \(calls)") }
            #expect(!Files.exists(fixture.recipe.layout.directory), "the container directory is gone")
            #expect(((try? Files.listDirectory(dir + "/lib/journal")) ?? []).isEmpty, "journal settled")
        }
    }
}
