#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import CrpodCore

/// A `runc spec` style config.json with fields crpod does not model, at the top level
/// and inside `process`, `linux` and a namespace entry.
let runcStyleConfig = #"""
{
	"ociVersion": "1.0.2-dev",
	"x-vendor-top": {"keep": [1, 2, 3]},
	"process": {
		"terminal": true,
		"user": {"uid": 0, "gid": 0},
		"args": ["sh"],
		"env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
		"cwd": "/",
		"x-process-extra": "stay",
		"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1024}],
		"noNewPrivileges": true
	},
	"root": {"path": "rootfs", "readonly": true},
	"hostname": "runc",
	"mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
	"linux": {
		"resources": {"devices": [{"allow": false, "access": "rwm"}]},
		"namespaces": [
			{"type": "pid"},
			{"type": "network", "x-ns-extra": 7},
			{"type": "ipc"},
			{"type": "uts"},
			{"type": "mount"}
		],
		"x-linux-extra": {"nested": null},
		"maskedPaths": ["/proc/kcore"]
	}
}
"""#

private func loadFixture() throws -> OCISpec {
    try OCISpec(data: Data(runcStyleConfig.utf8), context: "fixture config.json")
}

/// The fixture's JSON with the fields a test may patch removed, for comparing the rest.
private func untouchedFields(_ spec: OCISpec) -> JSONValue {
    var json = spec.json
    for path in [["hostname"], ["annotations"], ["linux", "namespaces"], ["linux", "cgroupsPath"],
                 ["linux", "mountLabel"], ["process", "args"], ["process", "env"],
                 ["process", "selinuxLabel"], ["root", "path"]] {
        json.setValue(nil, atPath: path)
    }
    return json
}

@Suite("OCISpec")
struct OCISpecTests {
    @Test func readsTypedFields() throws {
        let spec = try loadFixture()
        #expect(spec.hostname == "runc")
        #expect(spec.processArgs == ["sh"])
        #expect(spec.processEnv.count == 2)
        #expect(spec.rootPath == "rootfs")
        #expect(spec.cgroupsPath == nil)
        #expect(spec.annotations.isEmpty)
        #expect(spec.namespaces.map(\.type) == ["pid", "network", "ipc", "uts", "mount"])
        #expect(spec.namespacePath(type: "network") == nil)
    }

    @Test func roundTripKeepsEverything() throws {
        let spec = try loadFixture()
        let again = try OCISpec(data: try spec.data(), context: "re-encoded")
        #expect(again == spec)
        #expect(again.json.value(atPath: ["process", "rlimits"])?.arrayValue?.first?["hard"] == .uint(UInt64.max))
    }

    @Test func patchingEveryFieldKeepsUnknownFields() throws {
        let original = try loadFixture()
        var spec = original
        spec.hostname = nil
        spec.cgroupsPath = "/crpod.slice/crpod-abc.scope"
        spec.annotations = ["io.crpod.pod": "web"]
        spec.processArgs = ["/bin/server", "--port", "80"]
        spec.processEnv = ["PATH=/bin"]
        spec.rootPath = "/var/lib/crpod/rootfs"
        spec.mountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
        spec.processLabel = "system_u:system_r:container_t:s0:c1,c2"
        spec.joinNamespace(type: "network", path: "/proc/42/ns/net")
        let reparsed = try OCISpec(data: try spec.data(), context: "patched")

        #expect(untouchedFields(reparsed) == untouchedFields(original))
        #expect(reparsed.json["x-vendor-top"] == ["keep": [1, 2, 3]])
        #expect(reparsed.json.value(atPath: ["process", "x-process-extra"]) == "stay")
        #expect(reparsed.json.value(atPath: ["linux", "x-linux-extra"]) == ["nested": nil])
        #expect(reparsed.json["hostname"] == nil, "nil removes the key")
        #expect(reparsed.cgroupsPath == "/crpod.slice/crpod-abc.scope")
        #expect(reparsed.annotations == ["io.crpod.pod": "web"])
        #expect(reparsed.processArgs == ["/bin/server", "--port", "80"])
        #expect(reparsed.processEnv == ["PATH=/bin"])
        #expect(reparsed.rootPath == "/var/lib/crpod/rootfs")
        #expect(reparsed.json.value(atPath: ["root", "readonly"]) == true)
        #expect(reparsed.mountLabel == "system_u:object_r:container_file_t:s0:c1,c2")
        #expect(reparsed.processLabel == "system_u:system_r:container_t:s0:c1,c2")
    }

    @Test func joinReplacesEntryKeepingItsExtras() throws {
        var spec = try loadFixture()
        spec.joinNamespace(type: "network", path: "/proc/42/ns/net")
        #expect(spec.namespacePath(type: "network") == "/proc/42/ns/net")
        #expect(spec.namespaces.count == 5, "replaced in place, not appended")
        let entry = spec.json.value(atPath: ["linux", "namespaces"])?.arrayValue?[1]
        #expect(entry == ["type": "network", "path": "/proc/42/ns/net", "x-ns-extra": 7])
    }

    @Test func joinAppendsNewType() throws {
        var spec = try loadFixture()
        spec.joinNamespace(type: "cgroup", path: "/proc/42/ns/cgroup")
        #expect(spec.namespaces.last == OCINamespace(type: "cgroup", path: "/proc/42/ns/cgroup"))
        #expect(spec.namespaces.count == 6)
    }

    @Test func removeAndMakePrivate() throws {
        var spec = try loadFixture()
        spec.removeNamespace(type: "pid")
        #expect(!spec.namespaces.contains { $0.type == "pid" })
        spec.joinNamespace(type: "uts", path: "/proc/9/ns/uts")
        spec.makeNamespacePrivate(type: "uts")
        #expect(spec.namespaces.first { $0.type == "uts" } == OCINamespace(type: "uts"))
        #expect(spec.namespacePath(type: "uts") == nil)
    }

    @Test func settingNamespacesKeepsExtrasOfSurvivingTypes() throws {
        var spec = try loadFixture()
        spec.namespaces = [OCINamespace(type: "mount"), OCINamespace(type: "network", path: "/run/netns/x")]
        let entries = spec.json.value(atPath: ["linux", "namespaces"])?.arrayValue
        #expect(entries == [["type": "mount"], ["type": "network", "path": "/run/netns/x", "x-ns-extra": 7]])
        #expect(spec.json.value(atPath: ["linux", "x-linux-extra"]) != nil)
    }

    @Test func settersCreateMissingSections() throws {
        var spec = try OCISpec(json: [:])
        spec.cgroupsPath = "/a"
        spec.joinNamespace(type: "ipc", path: "/proc/1/ns/ipc")
        spec.processLabel = "label"
        #expect(spec.json == [
            "linux": ["cgroupsPath": "/a", "namespaces": [["type": "ipc", "path": "/proc/1/ns/ipc"]]],
            "process": ["selinuxLabel": "label"],
        ])
        spec.annotations = [:]
        #expect(spec.json["annotations"] == nil)
    }

    @Test func rejectsNonObjects() {
        #expect(throws: CoreError.notAnObject(context: "OCI spec")) { _ = try OCISpec(json: [1, 2]) }
        #expect(throws: CoreError.notAnObject(context: "bundle/config.json")) {
            _ = try OCISpec(data: Data("\"text\"".utf8), context: "bundle/config.json")
        }
        #expect {
            _ = try OCISpec(data: Data("{".utf8), context: "bundle/config.json")
        } throws: { error in
            guard case .invalidJSON(context: "bundle/config.json", _) = error as? CoreError else { return false }
            return true
        }
    }
}
