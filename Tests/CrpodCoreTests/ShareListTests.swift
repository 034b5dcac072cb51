import Testing
@testable import CrpodCore

@Suite("ShareList")
struct ShareListTests {
    @Test(arguments: [
        ("", [String]()),
        ("none", []),
        ("  none ", []),
        ("ipc", ["ipc"]),
        ("net,ipc", ["ipc", "net"]),
        (" uts , net,ipc ", ["ipc", "net", "uts"]),
        ("cgroup,pid,uts,net,ipc", ["ipc", "net", "uts", "pid", "cgroup"]),
    ])
    func parses(_ text: String, _ expected: [String]) throws {
        #expect(try ShareList.parse(text) == expected)
    }

    @Test(arguments: [
        ("network", "unknown namespace \"network\" (allowed: ipc, net, uts, pid, cgroup)"),
        ("ipc,mnt", "unknown namespace \"mnt\""),
        ("IPC", "unknown namespace \"IPC\""),
        ("ipc,ipc", "\"ipc\" listed twice"),
        ("ipc, net ,ipc", "\"ipc\" listed twice"),
        ("ipc,", "empty item"),
        (",net", "empty item"),
        ("ipc,,net", "empty item"),
        ("ipc, ,net", "empty item"),
        ("none,ipc", "\"none\" cannot be combined"),
    ])
    func rejects(_ text: String, _ reason: String) {
        #expect {
            _ = try ShareList.parse(text)
        } throws: { error in
            guard case let .invalidShareList(value, why) = error as? CoreError else { return false }
            return value == text && why.contains(reason)
        }
    }

    @Test func defaultsAreAllowedAndCanonical() throws {
        #expect(ShareList.podDefault.allSatisfy(ShareList.allowed.contains))
        #expect(try ShareList.parse(ShareList.podDefault.joined(separator: ",")) == ShareList.podDefault)
    }

    @Test func ociTypes() {
        #expect(ShareList.allowed.map(ShareList.ociType(forShareName:)) == ["ipc", "network", "uts", "pid", "cgroup"])
        #expect(ShareList.allowed.map(ShareList.ociType(forShareName:)).allSatisfy(OCINamespaceType.all.contains))
    }
}
