#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import CrpodCore

@Suite("CheckpointConfig")
struct CheckpointConfigTests {
    typealias F = CheckpointFixtures

    @Test func readsPodmansFields() throws {
        let config = try F.podmanConfig()
        #expect(config.id == F.containerID)
        #expect(config.name == "worker")
        #expect(config.pod == F.podID)
        #expect(config.sharedNamespaceOwners == ["ipc": F.infraID, "net": F.infraID, "uts": F.infraID])
        #expect(config.dependencies.isEmpty)
        #expect(config.dependenciesOutsidePod.isEmpty)
        #expect(config.cgroupParent == "/libpod_parent/\(F.podID)")
        #expect(config.createCommand.first == "podman")
        #expect(config.createCommand.count == 10)
        #expect(config.createNetNS == false)
        #expect(config.rootfsImageName == "localhost/busy:1")
        #expect(config.rootfsImageID?.hasPrefix("5d0da3dc") == true)
        #expect(config.runtime == "runc")
        #expect(config.mountLabel == "system_u:object_r:container_file_t:s0:c100,c200")
        #expect(config.processLabel == "system_u:system_r:container_t:s0:c100,c200")
        #expect(config.createdTime == "2024-11-29T08:53:01.123456789Z")
        #expect(config.shmSize == 65_536_000)
        #expect(config.hasCrpodSection == false)
        #expect(config.crpod == nil)
    }

    @Test func toleratesMissingAndOddlyTypedFields() throws {
        let config = try CheckpointConfig(json: [
            "id": "abc", "pod": "", "Dependencies": ["x", 7], "CreateCommand": "not a list",
            "mountLabel": "lower-case label", "ipcNsCtr": 12,
        ])
        #expect(config.pod == nil)
        #expect(config.name == nil)
        #expect(config.dependencies == ["x"])
        #expect(config.createCommand.isEmpty)
        #expect(config.mountLabel == "lower-case label")
        #expect(config.processLabel == nil)
        #expect(config.sharedNamespaceOwners.isEmpty)
    }

    @Test func roundTripKeepsUnknownFields() throws {
        var config = try F.podmanConfig()
        config.name = "renamed"
        config.pod = nil
        config.sharedNamespaceOwners = ["pid": "other"]
        config.dependencies = ["dep1"]
        let again = try CheckpointConfig(data: config.data(), context: "round trip")
        #expect(again == config)
        #expect(again.json["x-future-field"] == ["nested": [1, 2.5, "three"]])
        #expect(again.json["idMappingsOptions"]?["AutoUserNsOpts"]?["Size"] == 0)
        #expect(again.json["lockID"] == 3)
        #expect(again.json["pod"] == nil)
        #expect(again.json["ipcNsCtr"] == nil)
        #expect(again.json["pidNsCtr"] == "other")
        #expect(again.json["Dependencies"] == ["dep1"])
        #expect(again.name == "renamed")
    }

    @Test func labelsAreWrittenWithPodmansSpelling() throws {
        var config = try CheckpointConfig(json: ["processLabel": "old"])
        config.processLabel = "new"
        #expect(config.json["ProcessLabel"] == "new")
        #expect(config.json["processLabel"] == nil)
    }

    @Test func shmSizeIsWrittenAsPodmansNumberAndRemovedByNil() throws {
        var config = try CheckpointConfig(json: ["shmSize": "64m"])
        #expect(config.shmSize == nil, "not a number")
        config.shmSize = 2 << 20
        #expect(config.json["shmSize"] == .int(2 << 20))
        config.shmSize = nil
        #expect(config.json["shmSize"] == nil)
    }

    @Test func rejectsNonObjectsAndBadJSON() {
        #expect(throws: CoreError.notAnObject(context: "x")) {
            try CheckpointConfig(data: Data("[1]".utf8), context: "x")
        }
        #expect(throws: CoreError.self) { try CheckpointConfig(data: Data("{".utf8), context: "x") }
        #expect(throws: CoreError.notAnObject(context: "config.dump")) { try CheckpointConfig(json: "text") }
    }

    @Test func makeFillsPodmansFieldsAndTheCrpodSection() throws {
        let config = F.crpodConfig()
        #expect(config.id == F.containerID)
        #expect(config.pod == F.podID)
        #expect(config.sharedNamespaceOwners == ["ipc": F.infraID, "net": F.infraID, "uts": F.infraID, "pid": F.infraID])
        #expect(config.json["pidNsCtr"] == .string(F.infraID))
        #expect(config.createNetNS == false)
        #expect(config.runtime == "runc")
        #expect(config.rootfs == "/var/lib/crpod/rootfs/busy")
        #expect(config.rootfsImageName == nil)
        #expect(config.json["MountLabel"] == nil)
        let again = try CheckpointConfig(data: config.data(), context: "made")
        #expect(again.crpod == F.crpodSection)
        #expect(ArchiveEngine.detect(config: again, spec: nil, memberNames: []) == .crpod)
    }

    @Test func makeWithoutAPodCreatesANetworkNamespace() {
        let section = CrpodSection(checkpointedAt: "2024-11-29T09:00:00Z")
        let config = CheckpointConfig.make(
            id: "a", name: "solo", createdTime: "t", createCommand: [], cgroupParent: "/crpod",
            runtime: "runc", rootfsImageName: "localhost/busy:1", infraID: nil, crpod: section)
        #expect(config.pod == nil)
        #expect(config.sharedNamespaceOwners.isEmpty)
        #expect(config.createNetNS == true)
        #expect(config.json["CreateCommand"] == nil)
        #expect(config.rootfs == nil)
        #expect(config.name == "solo" && config.createdTime == "t", "checkpointctl shows podman's name and createdTime")
        #expect(config.json["checkpointedTime"] == "2024-11-29T09:00:00Z", "podman's checkpointedTime, from the crpod section")
    }

    @Test func aCrpodConfigMarkedLibpodIsStillCrpods() throws {
        let config = CheckpointConfig.make(
            id: "a", name: "n", createdTime: "t", createCommand: [], cgroupParent: "/crpod", runtime: "runc",
            infraID: nil, crpod: CrpodSection(checkpointedAt: "t1"))
        let spec = try OCISpec(data: Data(#"{"ociVersion":"1.0.2","annotations":{"io.container.manager":"libpod"}}"#.utf8), context: "spec")
        #expect(ArchiveEngine.detect(config: config, spec: spec, memberNames: []) == .crpod, "the crpod section decides before the format marker")
        #expect(ArchiveEngine.detect(config: nil, spec: spec, memberNames: []) == .podman)
    }

    @Test func settingTheCrpodSectionKeepsKeysFromANewerCrpod() throws {
        var config = try CheckpointConfig(json: [
            "id": "a",
            "crpod": ["version": 1, "checkpointedAt": "t0", "hostname": "old", "futureKey": ["x": true]],
        ])
        var section = try #require(config.crpod)
        #expect(section.hostname == "old")
        #expect(section.pids.isEmpty)
        section.hostname = nil
        section.pids = [1]
        config.crpod = section
        #expect(config.json["crpod"]?["futureKey"] == ["x": true])
        #expect(config.json["crpod"]?["hostname"] == nil)
        #expect(config.crpod?.pids == [1])
        config.crpod = nil
        #expect(config.hasCrpodSection == false)
    }

    @Test func aMalformedCrpodSectionIsReported() throws {
        let missingVersion = try CheckpointConfig(json: ["crpod": ["checkpointedAt": "t"]])
        #expect(missingVersion.crpod == nil)
        #expect(missingVersion.hasCrpodSection)
        #expect(throws: CoreError.self) { try missingVersion.decodeCrpod() }
        let wrongType = try CheckpointConfig(json: ["crpod": ["version": 1, "checkpointedAt": "t", "pids": ["one"]]])
        #expect(throws: CoreError.self) { try wrongType.decodeCrpod() }
        let notObject = try CheckpointConfig(json: ["crpod": "yes"])
        #expect(throws: CoreError.notAnObject(context: "config.dump crpod")) { try notObject.decodeCrpod() }
    }

    @Test func archiveFactsSurviveJSONCoding() throws {
        let facts = try F.podmanFacts()
        let data = try JSONEncoder().encode(facts)
        let decoded = try JSONDecoder().decode(ArchiveFacts.self, from: data)
        #expect(decoded == facts)
        #expect(decoded.engine == .podman)
        #expect(decoded.imageVersion == 2)
    }

    @Test func readersRecordValuesOrErrors() {
        var facts = ArchiveFacts()
        facts.readConfig(Data("{\"id\": \"x\"}".utf8))
        facts.readSpec(Data("not json".utf8))
        facts.readManifest(Data("{\"version\": 1, \"members\": [], \"extra\": 1}".utf8))
        facts.readStats([1, 2, 3])
        facts.readInventory(realInventory)
        facts.readDumpLog(CRIULogVersionTests.runcDumpLog)
        #expect(facts.config?.id == "x")
        #expect(facts.configError == nil)
        #expect(facts.spec == nil)
        #expect(facts.specError?.contains("spec.dump") == true)
        #expect(facts.manifest == ArchiveManifestModel(members: []))
        #expect(facts.stats == nil)
        #expect(facts.statsError?.contains("stats-dump") == true)
        #expect(facts.imageVersion == 2)
        #expect(facts.criuVersion?.number == 40101)
    }

    @Test func detectsEngines() throws {
        let crio = try F.spec(annotations: ["io.kubernetes.cri-o.SandboxID": "abc", "io.container.manager": "cri-o"])
        #expect(ArchiveEngine.detect(config: try F.podmanConfig(), spec: crio, memberNames: []) == .crio)
        let plain = try CheckpointConfig(json: ["id": "a"])
        #expect(ArchiveEngine.detect(config: plain, spec: nil, memberNames: []) == .unknown)
        #expect(ArchiveEngine.detect(config: plain, spec: nil, memberNames: ["crpod-manifest.json"]) == .crpod)
        let libpod = try F.spec(annotations: ["io.container.manager": "libpod"])
        #expect(ArchiveEngine.detect(config: plain, spec: libpod, memberNames: []) == .podman)
    }
}
