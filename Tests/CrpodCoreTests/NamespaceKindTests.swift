import Foundation
import Testing
@testable import CrpodCore

@Suite("NamespaceKind")
struct NamespaceKindTests {
    @Test(arguments: [
        (NamespaceKind.ipc, "ipc", "IPC"), (.net, "network", "network"), (.pid, "pid", "PID"),
        (.uts, "uts", "UTS"), (.cgroup, "cgroup", "cgroup"), (.mnt, "mount", "mount"),
        (.user, "user", "user"), (.time, "time", "time"),
    ])
    func tableFacts(kind: NamespaceKind, ociType: String, displayName: String) {
        #expect(kind.ociType == ociType)
        #expect(kind.displayName == displayName)
        #expect(NamespaceKind(ociType: ociType) == kind)
        #expect(kind.facts?.kind == kind)
    }

    @Test func orderAndShareability() {
        #expect(NamespaceKind.known.map(\.rawValue) == ["ipc", "net", "pid", "uts", "cgroup", "mnt", "user", "time"])
        #expect(NamespaceKind.podShareable == [.ipc, .net, .pid, .uts, .cgroup])
        #expect(Set(NamespaceKind.table.map(\.ociType)).count == NamespaceKind.table.count)
        #expect(Set(NamespaceKind.known).count == NamespaceKind.table.count)
    }

    @Test func unknownKindsKeepTheirName() throws {
        let odd = NamespaceKind(ociType: "wibble")
        #expect(odd.rawValue == "wibble")
        #expect(odd.facts == nil)
        #expect(odd.ociType == "wibble")
        #expect(odd.displayName == "wibble")
        #expect(odd.description == "wibble")
        #expect(NamespaceKind(ociType: "net") == NamespaceKind(rawValue: "net"), "'net' is not an OCI type but maps by name")
    }

    @Test func codableIsTheBareStringAndRoundTripsUnknowns() throws {
        let kinds = [NamespaceKind.net, .mnt, NamespaceKind(rawValue: "wibble")]
        let data = try JSONEncoder().encode(kinds)
        #expect(String(decoding: data, as: UTF8.self) == #"["net","mnt","wibble"]"#)
        let decoded = try JSONDecoder().decode([NamespaceKind].self, from: Data(#"["time","wibble"]"#.utf8))
        #expect(decoded == [.time, NamespaceKind(rawValue: "wibble")])
        #expect(try JSONEncoder().encode(decoded) == Data(#"["time","wibble"]"#.utf8))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(NamespaceKind.self, from: Data("42".utf8)) }
    }
}

/// Every other spelling of the namespace vocabulary is derived from `NamespaceKind.table`.
@Suite("NamespaceKind is the single source")
struct NamespaceVocabularySourceTests {
    @Test func everyAcceptedShareIsAPodShareableKind() throws {
        for share in ShareList.allowed {
            let kind = NamespaceKind(rawValue: share)
            #expect(kind.facts?.podShareable == true, "\(share)")
            #expect(try ShareList.parse(share) == [share])
            #expect(ShareList.ociType(forShareName: share) == kind.ociType)
        }
        #expect(Set(ShareList.allowed) == Set(NamespaceKind.podShareable.map(\.rawValue)))
        for kind in NamespaceKind.known where kind.facts?.podShareable == false {
            #expect(throws: CoreError.self) { try ShareList.parse(kind.rawValue) }
        }
    }

    /// README: a pod "owns the shared namespaces (ipc, net, uts, and optionally pid and cgroup)".
    @Test func podDefaultIsWhatTheReadmeSays() throws {
        #expect(ShareList.podDefault == ["ipc", "net", "uts"])
        #expect(ShareList.allowed == ["ipc", "net", "uts", "pid", "cgroup"])
        #expect(try ShareList.parse(ShareList.podDefault.joined(separator: ",")) == ShareList.podDefault)
    }

    @Test func ociTypesRoundTripThroughTheTable() {
        #expect(OCINamespaceType.all == NamespaceKind.known.map(\.ociType))
        for type in OCINamespaceType.all {
            #expect(NamespaceKind(ociType: type).ociType == type)
            #expect(NamespaceKind.ociType(NamespaceKind.procName(type)) == type)
        }
        #expect(OCINamespaceType.podShareable == NamespaceKind.podShareable.map(\.ociType))
        #expect(ContainerSpecRequest.defaultPrivate == OCINamespaceType.podShareable)
    }

    @Test func podmanOwnerKeysFollowTheShares() {
        #expect(CheckpointConfig.namespaceOwnerKeys.map(\.share) == ShareList.allowed)
        #expect(CheckpointConfig.namespaceOwnerKeys.map(\.key) == ["ipcNsCtr", "netNsCtr", "utsNsCtr", "pidNsCtr", "cgroupNsCtr"])
        let unshareable = NamespaceKind.table.filter { !$0.podShareable }
        #expect(unshareable.allSatisfy { $0.podmanOwnerKey == nil })
    }

    @Test func onlyPodKindsMayBeJoinedByPath() throws {
        var spec = try OCISpec(json: .object([:]))
        for kind in NamespaceKind.known { spec.joinNamespace(type: kind.ociType, path: kind.rawValue) }
        #expect(spec.foreignNamespaceJoins.map(\.type) == ["mount", "user", "time"])
    }
}
