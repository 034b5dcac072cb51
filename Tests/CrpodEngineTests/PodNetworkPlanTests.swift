import Foundation
import Testing
import CrpodDrivers
@testable import CrpodEngine

/// L1: what `pod create` decides about the network from its options and the CNI config
/// directory (a temp tree), before anything is created.
@Suite("Engine.planNetwork")
struct PodNetworkPlanTests {
    static let conflist = """
        {"cniVersion": "1.0.0", "name": "crpod", "plugins": [
          {"type": "bridge", "capabilities": {"ips": true}}, {"type": "portmap", "capabilities": {"portMappings": true}}]}
        """
    static let plain = #"{"cniVersion": "1.0.0", "name": "plain", "type": "bridge"}"#
    static let port = CNIPortMapping(hostPort: 8080, containerPort: 80)

    func plan(_ request: PodCreateRequest, configured: Bool = true) throws -> PodNetworkPlan {
        try withTempTree { dir in
            if configured {
                try put(dir + "/cni/10-crpod.conflist", Self.conflist)
                try put(dir + "/cni/20-plain.conf", Self.plain)
            }
            var settings = EngineSettings(root: dir + "/lib", runRoot: dir + "/run", runtimePath: nil, criuPath: nil, criuSource: nil,
                                          cgroupParent: "/crpod", helperDirectory: dir)
            settings.cniConfigDirectory = dir + "/cni"
            return try Engine(settings: settings).planNetwork(request)
        }
    }

    @Test func defaultIsTheCrpodNetworkWhenConfiguredElseNone() throws {
        let chosen = try plan(PodCreateRequest(name: "p"))
        #expect(chosen.mode == .cni && chosen.network?.name == "crpod" && chosen.shares == ["ipc", "net", "uts"])
        #expect(try plan(PodCreateRequest(name: "p", network: "bridge")).network?.name == "crpod")
        #expect(try plan(PodCreateRequest(name: "p"), configured: false) == PodNetworkPlan(mode: .none, network: nil, runtimeConfig: CNIRuntimeConfig(), shares: ["ipc", "net", "uts"]))
        #expect(try plan(PodCreateRequest(name: "p", shares: ["ipc"])).mode == .none, "a pod without its own netns has no network")
    }

    @Test func hostDropsTheNetShareAndNoneKeepsIt() throws {
        #expect(try plan(PodCreateRequest(name: "p", network: "host")).shares == ["ipc", "uts"])
        #expect(try plan(PodCreateRequest(name: "p", network: "host")).mode == .host)
        #expect(try plan(PodCreateRequest(name: "p", network: "none")).shares == ["ipc", "net", "uts"])
    }

    @Test func ipAndPublishGoToTheRuntimeConfig() throws {
        let chosen = try plan(PodCreateRequest(name: "p", staticIP: "10.90.0.9", publish: [Self.port]))
        #expect(chosen.runtimeConfig == CNIRuntimeConfig(portMappings: [Self.port], ips: ["10.90.0.9"]))
        #expect(try plan(PodCreateRequest(name: "p", network: "plain")).network?.plugins.count == 1)
    }

    @Test(arguments: [
        (PodCreateRequest(name: "p", network: "none", publish: [port]), "need a CNI network"),
        (PodCreateRequest(name: "p", network: "host", staticIP: "10.90.0.9"), "need a CNI network"),
        (PodCreateRequest(name: "p", staticIP: "10.90.0.300"), "is not an IP address"),
        (PodCreateRequest(name: "p", network: "plain", publish: [port]), "no plugin with the portMappings capability"),
        (PodCreateRequest(name: "p", network: "plain", staticIP: "10.90.0.9"), "no plugin with the ips capability"),
        (PodCreateRequest(name: "p", shares: ["ipc"], network: "crpod"), "needs the pod to share its network namespace"),
        (PodCreateRequest(name: "p", network: "nosuch"), "no CNI network \"nosuch\""),
    ])
    func refusals(request: PodCreateRequest, words: String) {
        #expect {
            _ = try plan(request)
        } throws: { error in
            guard case let EngineError.invalidInput(_, detail) = error else { return false }
            return detail.contains(words)
        }
    }

    @Test func withoutConfigPublishIsRefusedWithTheDirectoryNamed() {
        #expect {
            _ = try plan(PodCreateRequest(name: "p", publish: [Self.port]), configured: false)
        } throws: { error in "\(error)".contains("is crpod configured in") }
    }

    @Test func membersOfAHostNetworkPodUseTheHostsNetworkNamespace() throws {
        var pod = podRecord(id: fakeID("ab"), name: "h", shares: ["ipc", "uts"])
        pod.network = PodNetwork(mode: .host)
        let engine = Engine(settings: EngineSettings(root: "/nonexistent", runRoot: "/nonexistent", runtimePath: nil, criuPath: nil,
                                                     criuSource: nil, cgroupParent: "/crpod", helperDirectory: "/nonexistent"))
        let request = engine.specRequest(for: containerRecord(id: fakeID("c1"), name: "m", pod: pod), pod: pod)
        #expect(request.joinNamespaces["network"] == nil && !request.privateNamespaces.contains("network"))
        #expect(Set(request.joinNamespaces.keys) == ["ipc", "uts"])
        pod.network = PodNetwork(mode: .none)
        let lonely = engine.specRequest(for: containerRecord(id: fakeID("c1"), name: "m", pod: pod), pod: pod)
        #expect(lonely.privateNamespaces.contains("network"), "a pod that does not share net: members get their own")
    }

    @Test func checkNamesTheDefaultNetworkAndMissingPlugins() throws {
        try withTempTree { dir in
            var settings = EngineSettings(root: dir + "/lib", runRoot: dir + "/run", runtimePath: nil, criuPath: nil, criuSource: nil,
                                          cgroupParent: "/crpod", helperDirectory: dir)
            settings.cniConfigDirectory = dir + "/cni"
            settings.cniPluginDirectories = [dir + "/plugins"]
            let unconfigured = Engine(settings: settings).networkFact()
            #expect(unconfigured.ok && unconfigured.detail.hasPrefix("no network crpod in \(dir)/cni: pods get a lo-only"))
            try put(dir + "/cni/crpod.conflist", #"{"cniVersion": "1.0.0", "name": "crpod", "plugins": [{"type": "bridge", "ipam": {"type": "host-local"}}]}"#)
            try put(dir + "/plugins/bridge", "#!/bin/sh\n", mode: 0o755)
            let missing = Engine(settings: settings).networkFact()
            #expect(!missing.ok && !missing.required && missing.detail.hasSuffix("plugins host-local not found in \(dir)/plugins"))
            try put(dir + "/plugins/host-local", "#!/bin/sh\n", mode: 0o755)
            let found = Engine(settings: settings).networkFact()
            #expect(found.ok && found.detail == "crpod (\(dir)/cni/crpod.conflist): plugins bridge, host-local found in \(dir)/plugins")
        }
    }
}
