import CrpodCore
import Foundation
import Testing

@testable import CrpodDrivers

/// The CNI driver against fake plugins: bash scripts that record their CNI_* environment and
/// stdin, append `<name> <command>` to `calls`, and print a canned answer.
@Suite struct CNIDriverTests {
    let tools: FakeTools
    let driver: CNIDriver

    init() throws {
        tools = try FakeTools()
        driver = CNIDriver(pluginDirectories: [tools.directory + "/missing", tools.directory], timeLimit: .seconds(20))
    }

    /// A plugin that records each call as `<name>.<command>.env` / `.stdin` and prints `answer`
    /// (ADD only; DEL and CHECK print nothing) and exits `status` for the command `failOn`.
    func plugin(_ name: String, answer: String, failOn: String = "", status: Int32 = 1, failure: String = "") throws {
        try tools.writeFile(tools.path("\(name).answer"), answer, mode: 0o644)
        try tools.writeFile(tools.path("\(name).failure"), failure, mode: 0o644)
        try tools.script(name, body: """
            dir=$(dirname "$0")
            echo "\(name) $CNI_COMMAND" >> "$dir/calls"
            env | grep '^CNI_' | sort > "$dir/\(name).$CNI_COMMAND.env"
            cat > "$dir/\(name).$CNI_COMMAND.stdin"
            if [ "$CNI_COMMAND" = "\(failOn)" ]; then cat "$dir/\(name).failure"; echo "stderr of \(name)" >&2; exit \(status); fi
            if [ "$CNI_COMMAND" = ADD ]; then cat "$dir/\(name).answer"; fi
            exit 0
            """)
    }

    func network(_ types: [String], version: String = "1.0.0") -> CNINetworkConfigList {
        var plugins: [[String: JSONValue]] = types.map { ["type": .string($0)] }
        plugins[plugins.count - 1]["capabilities"] = ["portMappings": true]
        return CNINetworkConfigList(name: "fakenet", cniVersion: version, plugins: plugins, source: "fake.conflist")
    }

    func attachment(_ network: CNINetworkConfigList) -> CNIAttachment {
        CNIAttachment(network: network, containerID: "pod123", netnsPath: "/proc/1/ns/net", interfaceName: "eth0",
                      runtimeConfig: CNIRuntimeConfig(portMappings: [CNIPortMapping(hostPort: 9090, containerPort: 90, protocol: .udp)]))
    }

    func stdin(_ name: String, _ command: String) throws -> [String: JSONValue] {
        let text = try tools.read(tools.path("\(name).\(command).stdin"))
        return try JSONValue.parse(Data(text.utf8), context: name).objectValue ?? [:]
    }

    func calls() throws -> [String] {
        try tools.read(tools.path("calls")).split(separator: "\n").map(String.init)
    }

    static let first = #"{"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "sandbox": "/proc/1/ns/net"}], "ips": [{"address": "10.9.0.2/24", "gateway": "10.9.0.1", "interface": 0}]}"#
    static let second = #"{"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "sandbox": "/proc/1/ns/net"}], "ips": [{"address": "10.9.0.2/24", "gateway": "10.9.0.1", "interface": 0}], "dns": {"nameservers": ["10.9.0.1"]}}"#

    @Test func addChainsPrevResultAndSetsTheSpecEnvironment() async throws {
        try plugin("fakebridge", answer: Self.first)
        try plugin("fakeportmap", answer: Self.second)
        var seen: [JSONValue] = []
        let (result, raw) = try await driver.add(attachment(network(["fakebridge", "fakeportmap"]))) { partial in
            seen.append(partial)
            let calledSoFar = try calls().count
            #expect(calledSoFar == seen.count, "handed over before the next plugin runs")
        }
        #expect(try calls() == ["fakebridge ADD", "fakeportmap ADD"])
        #expect(seen == [try JSONValue.parse(Data(Self.first.utf8), context: "t"), try JSONValue.parse(Data(Self.second.utf8), context: "t")])
        #expect(result.containerAddresses == ["10.9.0.2"])
        #expect(result.dns?.nameservers == ["10.9.0.1"])
        #expect(raw == (try JSONValue.parse(Data(Self.second.utf8), context: "t")))
        let env = try tools.read(tools.path("fakebridge.ADD.env"))
        #expect(env == """
            CNI_COMMAND=ADD
            CNI_CONTAINERID=pod123
            CNI_IFNAME=eth0
            CNI_NETNS=/proc/1/ns/net
            CNI_PATH=\(tools.directory)/missing:\(tools.directory)

            """)
        let bridgeInput = try stdin("fakebridge", "ADD")
        #expect(bridgeInput["name"] == "fakenet" && bridgeInput["cniVersion"] == "1.0.0" && bridgeInput["prevResult"] == nil)
        #expect(bridgeInput["runtimeConfig"] == nil)  // fakebridge declares no capability
        let portmapInput = try stdin("fakeportmap", "ADD")
        #expect(portmapInput["prevResult"] == (try JSONValue.parse(Data(Self.first.utf8), context: "t")))
        #expect(portmapInput["runtimeConfig"] == ["portMappings": [["hostPort": 9090, "containerPort": 90, "protocol": "udp"]]])
    }

    @Test func deleteRunsInReverseWithTheStoredResultAndGoesOnAfterAFailure() async throws {
        try plugin("fakebridge", answer: Self.first)
        try plugin("fakeportmap", answer: Self.second, failOn: "DEL", status: 3,
                   failure: #"{"cniVersion": "1.0.0", "code": 999, "msg": "iptables busy", "details": "try again"}"#)
        let prev = try JSONValue.parse(Data(Self.second.utf8), context: "t")
        await #expect {
            try await driver.delete(attachment(network(["fakebridge", "fakeportmap"])), prevResult: prev)
        } throws: { error in
            guard case let DriverError.cniPluginFailed(failure) = error else { return false }
            return failure.plugin == "fakeportmap" && failure.command == .delete && failure.status == .exited(3)
                && failure.code == 999 && failure.message == "iptables busy" && failure.details == "try again"
                && failure.stderrTail == "stderr of fakeportmap"
        }
        #expect(try calls() == ["fakeportmap DEL", "fakebridge DEL"])  // the bridge was still asked
        #expect(try stdin("fakebridge", "DEL")["prevResult"] == prev)
        #expect(try tools.read(tools.path("fakebridge.DEL.env")).contains("CNI_COMMAND=DEL\n"))
    }

    @Test func addStopsAtTheFailingPlugin() async throws {
        try plugin("fakebridge", answer: Self.first, failOn: "ADD", failure: #"{"code": 7, "msg": "bad config"}"#)
        try plugin("fakeportmap", answer: Self.second)
        await #expect {
            _ = try await driver.add(attachment(network(["fakebridge", "fakeportmap"])))
        } throws: { error in
            "\(error)".hasPrefix("CNI plugin fakebridge ADD failed (exit status 1, code 7): bad config")
        }
        #expect(try calls() == ["fakebridge ADD"])
    }

    @Test func addNeedsAResult() async throws {
        try plugin("fakebridge", answer: "")
        await #expect {
            _ = try await driver.add(attachment(network(["fakebridge"])))
        } throws: { error in
            guard case let DriverError.unexpectedOutput(tool, detail) = error else { return false }
            return tool == "fakebridge" && detail.contains("no result")
        }
    }

    @Test func checkPassesTheResultAndIsSkippedBefore040() async throws {
        try plugin("fakebridge", answer: Self.first)
        let prev = try JSONValue.parse(Data(Self.first.utf8), context: "t")
        try await driver.check(attachment(network(["fakebridge"])), prevResult: prev)
        #expect(try stdin("fakebridge", "CHECK")["prevResult"] == prev)
        try await driver.check(attachment(network(["fakebridge"], version: "0.3.1")), prevResult: prev)
        #expect(try calls() == ["fakebridge CHECK"])
    }

    @Test func aMissingPluginIsNamedWithTheSearchPath() async throws {
        await #expect {
            _ = try await driver.add(attachment(network(["nosuchplugin"])))
        } throws: { error in
            guard case let DriverError.toolNotFound(name, searched) = error else { return false }
            return name == "CNI plugin nosuchplugin" && searched == driver.pluginDirectories
        }
    }

    @Test func aHungPluginIsKilledAtTheTimeLimit() async throws {
        try tools.script("fakehang", body: "exec sleep 300")
        let quick = CNIDriver(pluginDirectories: [tools.directory], timeLimit: .milliseconds(500))
        let started = ContinuousClock.now
        await #expect {
            _ = try await quick.add(attachment(network(["fakehang"])))
        } throws: { error in
            guard case DriverError.timedOut(let tool, _, _) = error else { return false }
            return tool == "fakehang"
        }
        // Far below the plugin's 300 s: it was killed, not waited for (loose: CI hosts are busy).
        #expect(ContinuousClock.now - started < .seconds(120))
    }
}
