import Testing
@testable import CrpodCore

/// Rule 11: SysV segments attached in a joined IPC namespace are attached again only where
/// they are the checkpoint's own (its old pod, or a whole-pod restore's new pod).
@Suite("SysV segments attached in the pod's IPC namespace")
struct RestoreSysVRuleTests {
    private typealias F = RestoreFixture

    struct Row: Sendable, CustomTestStringConvertible {
        var label: String
        var segments: Set<UInt64> = [0]
        var sameOldPod = false
        var podShares: Set<String> = ["ipc", "net", "uts"]
        var carries = false
        var reattaches = false
        var refused = false
        var reattach = false
        var testDescription: String { label }
    }

    static let rows = [
        Row(label: "into another pod: refused naming the segments", segments: [0, 32769], refused: true),
        Row(label: "back into its old pod: attached again", sameOldPod: true, reattach: true),
        Row(label: "a whole-pod restore's later member: attached again", reattaches: true, reattach: true),
        Row(label: "the whole-pod restore's carrier: CRIU re-creates and maps them", carries: true),
        Row(label: "nothing attached: nothing to do", segments: []),
    ]

    @Test(arguments: rows)
    func rule(_ row: Row) throws {
        var archive = F.archive(podID: row.sameOldPod ? F.newPodID : F.oldPodID)
        archive.sysvSegmentsAttached = row.segments
        var options = F.options()
        options.carriesPodIPC = row.carries
        options.reattachesPodSysVShm = row.reattaches
        let result = RestorePlanner.plan(archive: archive, pod: F.pod(shares: row.podShares), host: F.host(), options: options)
        if row.refused {
            #expect(result.problems?.codes == [RestoreProblem.Code.sysvShmFromAnotherPod])
            #expect(result.problems?.description.contains("segment id 0, 32769") == true)
            #expect(result.problems?.description.contains("pod web's IPC namespace does not hold those segments") == true)
            return
        }
        let plan = try #require(result.plan)
        #expect(plan.reattachSysVShm == row.reattach)
        #expect(plan.notes.contains { $0.contains("attached again at the same addresses in pod web") } == row.reattach)
        let recipe = RestoreRecipe.make(plan: plan, input: RestoreRecipeInput(containerDirectory: "/c", imageNames: ["mm-1.img", "mm-7.img", "pstree.img"]))
        #expect(recipe.imageEdits.filter { if case .detachSysVShm = $0 { true } else { false } }
                == (row.reattach ? [.detachSysVShm(image: "mm-1.img"), .detachSysVShm(image: "mm-7.img")] : []))
    }
}
