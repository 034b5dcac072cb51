import Foundation
import Testing
@testable import CrpodCore

/// One row: planner facts and recipe input in, the recipe's decisions out.
struct RestoreRecipeCase: Sendable, CustomTestStringConvertible {
    var label: String
    var archive = RestoreFixture.archive()
    var pod: PodPlanFacts? = RestoreFixture.pod()
    var host = RestoreFixture.host()
    var options = RestoreFixture.options()
    var joinedByPath: Set<String> = ["ipc", "network", "uts"]
    var edits: [RestoreImageEdit] = []
    var lsm: (profile: String?, mount: String?) = (nil, nil)
    var held: [String] = []
    var stages: [RestoreStage] = [.containerDirectory, .rootfsMount, .runtime]

    var testDescription: String { label }

    static let images = ["core-1.img", "pstree.img", "ipcns-var-10.img", "ipcns-sem-10.img", "ipcns-shm-10.img", "utsns-11.img"]

    func recipe() throws -> RestoreRecipe {
        let plan = try #require(RestorePlanner.plan(archive: archive, pod: pod, host: host, options: options).plan)
        let input = RestoreRecipeInput(containerDirectory: "/var/lib/crpod/containers/\(plan.containerID)", imageNames: Self.images,
                                       joinedByPath: joinedByPath, rlimitCeilings: ["RLIMIT_NOFILE": 1024],
                                       tcpEstablished: true, fileLocks: false, timeLimit: .seconds(600))
        return RestoreRecipe.make(plan: plan, input: input)
    }
}

@Suite("restore recipe")
struct RestoreRecipeTests {
    static let cases: [RestoreRecipeCase] = [
        RestoreRecipeCase(label: "into a pod sharing ipc, net, uts: IPC objects dropped, hostname rewritten",
                          edits: [.remove(image: "ipcns-sem-10.img"), .remove(image: "ipcns-shm-10.img"),
                                  .setHostname(image: "utsns-11.img", hostname: "web-host")]),
        RestoreRecipeCase(label: "SELinux on: the infra's labels go to the engine",
                          host: RestoreFixture.host(selinux: true),
                          edits: [.remove(image: "ipcns-sem-10.img"), .remove(image: "ipcns-shm-10.img"),
                                  .setHostname(image: "utsns-11.img", hostname: "web-host")],
                          lsm: ("selinux:" + RestoreFixture.processLabel, RestoreFixture.mountLabel)),
        RestoreRecipeCase(label: "a checkpoint that shared only net into a pod sharing only net: no image edits",
                          archive: RestoreFixture.archive(shared: ["net"], own: ["mnt", "pid", "cgroup", "ipc", "uts"], hostname: nil, ipcImages: false),
                          pod: RestoreFixture.pod(shares: ["net"]), joinedByPath: ["network"]),
        RestoreRecipeCase(label: "outside a pod, a network joined by path: a namespace holder, undone before the container directory",
                          archive: RestoreFixture.archive(podID: nil, shared: [], own: ["mnt", "pid", "ipc", "uts", "cgroup"], ipcImages: false),
                          pod: nil, options: RestoreFixture.options(pod: nil), joinedByPath: ["network"],
                          held: ["network"], stages: [.containerDirectory, .rootfsMount, .namespaceHolder, .runtime]),
        RestoreRecipeCase(label: "outside a pod, nothing joined: no holder, no edits",
                          archive: RestoreFixture.archive(podID: nil, shared: [], own: ["mnt", "pid", "ipc", "uts", "cgroup", "net"], ipcImages: false),
                          pod: nil, options: RestoreFixture.options(pod: nil), joinedByPath: []),
    ]

    @Test("the recipe's image edits, labels, held namespaces and undo order", arguments: cases)
    func decisions(_ row: RestoreRecipeCase) throws {
        let recipe = try row.recipe()
        #expect(recipe.imageEdits == row.edits)
        #expect(recipe.engine.lsmProfile == row.lsm.profile)
        #expect(recipe.engine.lsmMountContext == row.lsm.mount)
        #expect(recipe.heldNamespaces == row.held)
        #expect(recipe.undo.map(\.stage) == row.stages)
    }

    @Test("options, paths and the runtime's undo step follow the plan")
    func optionsAndPaths() throws {
        let recipe = try RestoreRecipeCase(label: "default").recipe()
        // Without --name the checkpoint keeps its ID.
        let directory = "/var/lib/crpod/containers/\(RestoreFixture.containerID)"
        #expect(recipe.engine == RestoreEngineOptions(tcpEstablished: true, fileLocks: false, manageCgroupsMode: "soft", timeLimit: .seconds(600)))
        #expect(recipe.layout.bundle == directory + "/bundle" && recipe.layout.rootfs == directory + "/rootfs")
        #expect(recipe.undo(for: .containerDirectory)?.action == .removeTree(directory))
        #expect(recipe.undo(for: .rootfsMount)?.action == .unmount(directory + "/rootfs"))
        #expect(recipe.undo(for: .runtime)?.action == .deleteRuntime(id: RestoreFixture.containerID, cgroup: "/crpod/pod-web/" + RestoreFixture.containerID))
        #expect(recipe.undo(for: .namespaceHolder) == nil)
    }

    @Test("the patched spec has the container's root; rlimits are lowered to the ceilings")
    func spec() throws {
        let recipe = try RestoreRecipeCase(label: "default").recipe()
        let original = try OCISpec(data: Data("""
        {"root":{"path":"/old"},"process":{"rlimits":[{"type":"RLIMIT_NOFILE","soft":4096,"hard":1048576},
        {"type":"RLIMIT_CORE","soft":0,"hard":0}]},"linux":{"namespaces":[{"type":"mount"}]}}
        """.utf8), context: "test")
        let patched = recipe.patchedSpec(original).clampingRLimits(to: recipe.rlimitCeilings)
        #expect(patched.rootPath == recipe.layout.rootfs)
        #expect(patched.cgroupsPath == recipe.plan.cgroupsPath)
        let limits = patched.json.value(atPath: ["process", "rlimits"])?.arrayValue ?? []
        #expect(limits.first?["soft"]?.uint64Value == 1024 && limits.first?["hard"]?.uint64Value == 1024)
        #expect(limits.last?["hard"]?.uint64Value == 0, "a limit without a ceiling is kept")
    }
}
