import CrpodCore
import Foundation
import Testing

@testable import CrpodDrivers

/// The pure half of CNI: configuration lists, plugin input, results, errors, port specs.
@Suite struct CNIConfigTests {
    static let conflist = """
        {"cniVersion": "1.0.0", "name": "testnet", "plugins": [
          {"type": "bridge", "bridge": "t0", "capabilities": {"ips": true}, "ipam": {"type": "host-local"}},
          {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
          {"type": "firewall"}]}
        """

    @Test func parsesAListKeepingUnknownFields() throws {
        let list = try CNINetworkConfigList.parse(Array(Self.conflist.utf8), source: "t.conflist")
        #expect(list.name == "testnet")
        #expect(list.cniVersion == "1.0.0")
        #expect(list.plugins.map { $0["type"]?.stringValue } == ["bridge", "portmap", "firewall"])
        #expect(list.plugins[1]["snat"] == .bool(true))
        #expect(list.declares("portMappings") && list.declares("ips") && !list.declares("mac"))
        #expect(list.supportsCheck)
    }

    @Test func aSingleConfIsAListOfOne() throws {
        let conf = #"{"cniVersion": "0.3.1", "name": "single", "type": "bridge", "bridge": "s0"}"#
        let list = try CNINetworkConfigList.parse(Array(conf.utf8), source: "s.conf")
        #expect(list.plugins.count == 1)
        #expect(list.plugins[0]["bridge"] == "s0")
        #expect(list.plugins[0]["name"] == nil)
        #expect(!list.supportsCheck)  // CHECK exists from 0.4.0 on
    }

    @Test(arguments: [
        (#"[1]"#, "not a JSON object"),
        (#"{"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}"#, "no \"name\""),
        (#"{"name": "n", "plugins": [{"type": "bridge"}]}"#, "no \"cniVersion\""),
        (#"{"name": "n", "cniVersion": "1.0.0", "plugins": []}"#, "non-empty array"),
        (#"{"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "../../bin/sh"}]}"#, "no valid \"type\""),
        (#"{"name": "n", "cniVersion": "1.0.0", "plugins": [{"bridge": "x"}]}"#, "no valid \"type\""),
        ("{", "not JSON"),
    ])
    func refusesInvalidConfigurations(text: String, expected: String) {
        #expect {
            _ = try CNINetworkConfigList.parse(Array(text.utf8), source: "bad.conflist")
        } throws: { error in
            guard case let DriverError.cniConfigInvalid(path, detail) = error else { return false }
            return path == "bad.conflist" && detail.contains(expected)
        }
    }

    @Test func pluginInputCarriesNameVersionPrevResultAndOnlyDeclaredCapabilities() throws {
        let list = try CNINetworkConfigList.parse(Array(Self.conflist.utf8), source: "t.conflist")
        let runtime = CNIRuntimeConfig(portMappings: [CNIPortMapping(hostPort: 8080, containerPort: 80)], ips: ["10.9.0.7"])
        let prev: JSONValue = ["cniVersion": "1.0.0", "ips": [["address": "10.9.0.7/24"]]]
        let bridge = list.pluginInput(0, prevResult: nil, runtimeConfig: runtime).objectValue ?? [:]
        #expect(bridge["name"] == "testnet" && bridge["cniVersion"] == "1.0.0")
        #expect(bridge["prevResult"] == nil)
        #expect(bridge["runtimeConfig"] == ["ips": ["10.9.0.7"]])
        let portmap = list.pluginInput(1, prevResult: prev, runtimeConfig: runtime).objectValue ?? [:]
        #expect(portmap["prevResult"] == prev)
        #expect(portmap["runtimeConfig"] == ["portMappings": [["hostPort": 8080, "containerPort": 80, "protocol": "tcp"]]])
        let firewall = list.pluginInput(2, prevResult: prev, runtimeConfig: runtime).objectValue ?? [:]
        #expect(firewall["runtimeConfig"] == nil)
        #expect(firewall["type"] == "firewall")
    }

    @Test func loadsByNameFromADirectorySkippingBrokenFiles() throws {
        let tools = try FakeTools()
        try tools.writeFile(tools.path("10-broken.conflist"), "{", mode: 0o644)
        try tools.writeFile(tools.path("20-other.conf"), #"{"cniVersion": "1.0.0", "name": "other", "type": "bridge"}"#, mode: 0o644)
        try tools.writeFile(tools.path("30-test.conflist"), Self.conflist, mode: 0o644)
        try tools.writeFile(tools.path("40-ignored.txt"), Self.conflist, mode: 0o644)
        let found = try CNINetworkConfigList.load(name: "testnet", directory: tools.directory)
        #expect(found.source == tools.path("30-test.conflist"))
        #expect(CNINetworkConfigList.exists(name: "other", directory: tools.directory))
        #expect {
            _ = try CNINetworkConfigList.load(name: "missing", directory: tools.directory)
        } throws: { error in
            guard case let DriverError.cniNetworkNotFound(name, directory, unreadable) = error else { return false }
            return name == "missing" && directory == tools.directory && unreadable.count == 1
                && unreadable[0].contains("10-broken.conflist") && "\(error)".contains("no CNI network \"missing\"")
        }
    }

    @Test func resultOfSpec100() throws {
        let text = """
            {"cniVersion": "1.0.0",
             "interfaces": [{"name": "t0", "mac": "aa:bb:cc:00:00:01"}, {"name": "veth1", "mac": "aa:bb:cc:00:00:02"},
                            {"name": "eth0", "mac": "0a:58:0a:09:00:07", "sandbox": "/proc/42/ns/net"}],
             "ips": [{"address": "10.9.0.7/24", "gateway": "10.9.0.1", "interface": 2}],
             "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.9.0.1"]}, "future": 1}
            """
        let result = try CNIResult.decode(try JSONValue.parse(Data(text.utf8), context: "t"), plugin: "bridge")
        #expect(result.containerInterfaces == [CNIResult.Interface(name: "eth0", mac: "0a:58:0a:09:00:07", sandbox: "/proc/42/ns/net")])
        #expect(result.containerAddresses == ["10.9.0.7"])
        #expect(result.containerIPs == [CNIResult.IPConfig(address: "10.9.0.7/24", gateway: "10.9.0.1", interface: 0)])
        #expect(result.routes?.first?.dst == "0.0.0.0/0")
        #expect(result.dns?.nameservers == ["10.9.0.1"])
    }

    @Test func resultOfSpec040WithVersionFields() throws {
        let text = #"{"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.88.0.5/16"}], "dns": {}}"#
        let result = try CNIResult.decode(try JSONValue.parse(Data(text.utf8), context: "t"), plugin: "bridge")
        #expect(result.containerAddresses == ["10.88.0.5"])
        #expect(result.interfaces == nil)
    }

    @Test func pluginErrorKeepsCodeMessageAndDetails() {
        let answer = ToolResult(status: .exited(1), stdout: #"{"cniVersion": "1.0.0", "code": 11, "msg": "no more addresses", "details": "range full"}"#,
                                stderr: "plugin log line\n")
        let failure = CNIPluginFailure.from(result: answer, plugin: "host-local", command: .add)
        #expect(failure.code == 11 && failure.message == "no more addresses" && failure.details == "range full")
        #expect(failure.description == "CNI plugin host-local ADD failed (exit status 1, code 11): no more addresses (range full)\n  stderr: plugin log line")
        let garbage = CNIPluginFailure.from(result: ToolResult(status: .signaled(9), stdout: "panic: oops", stderr: ""), plugin: "x", command: .delete)
        #expect(garbage.code == nil && garbage.message == "panic: oops")
    }

    @Test(arguments: [
        ("8080:80", CNIPortMapping(hostPort: 8080, containerPort: 80, protocol: .tcp)),
        ("53:5353/udp", CNIPortMapping(hostPort: 53, containerPort: 5353, protocol: .udp)),
        ("1:65535/tcp", CNIPortMapping(hostPort: 1, containerPort: 65535, protocol: .tcp)),
    ])
    func parsesPublishSpecs(text: String, expected: CNIPortMapping) {
        #expect(CNIPortMapping.parse(text) == expected)
        #expect(CNIPortMapping.parse(expected.description) == expected)
    }

    @Test(arguments: ["80", "0:80", "8080:70000", "a:80", "8080:80/sctp", "1.2.3.4:8080:80", ":80", "8080:"])
    func refusesBadPublishSpecs(text: String) {
        #expect(CNIPortMapping.parse(text) == nil)
    }
}
