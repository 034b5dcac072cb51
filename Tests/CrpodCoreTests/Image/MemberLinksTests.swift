import Testing
@testable import CrpodCore

@Suite("image source members found through symbolic links, never out of the source")
struct MemberLinksTests {
    /// What podman 4.3.1's `podman save` (docker-archive) writes, plus hostile and odd links.
    static let links: [String: String] = [
        "0970/layer.tar": "../4caf.tar",            // podman: the layer written once at the top
        "shared/layer.tar": "../0970/layer.tar",     // docker: a layer shared with another image (two hops)
        "dir": "0970",                               // a directory link on the way
        "dot/layer.tar": "./../4caf.tar",
        "shadow.json": "/etc/shadow",
        "up/layer.tar": "../../etc/passwd",
        "deep/layer.tar": "../dir/../../x",          // leaves through `..` after a link
        "loop/a": "b", "loop/b": "a",
        "empty": "",
        "self": ".",
        "manifest.json": "m/manifest.json",
    ]

    @Test("names resolve inside the source", arguments: [
        ("4caf.tar", "4caf.tar"),
        ("0970/layer.tar", "4caf.tar"),
        ("shared/layer.tar", "4caf.tar"),
        ("dir/layer.tar", "4caf.tar"),
        ("dir/VERSION", "0970/VERSION"),
        ("dot/layer.tar", "4caf.tar"),
        ("manifest.json", "m/manifest.json"),
        ("blobs/sha256/abc", "blobs/sha256/abc"),
    ])
    func resolves(_ member: String, expected: String) throws {
        #expect(try MemberLinks.resolve(member, source: "manifest.json") { Self.links[$0] } == expected)
    }

    @Test("links out of the source, loops and empty targets are refused naming the member and the link", arguments: [
        ("shadow.json", #"member "shadow.json" is a symbolic link to "/etc/shadow", an absolute path"#),
        ("up/layer.tar", #"member "up/layer.tar" is a symbolic link to "../../etc/passwd", which leads out of the image source"#),
        ("deep/layer.tar", #"member "deep/layer.tar" leads through the symbolic links "deep/layer.tar" -> "../dir/../../x", "dir" -> "0970", which leads out"#),
        ("loop/a", "more than 8 links deep"),
        ("empty", #"member "empty" is a symbolic link to "", not a usable link target"#),
        ("self", "names the image source's top directory"),
    ])
    func refuses(_ member: String, expected: String) {
        #expect {
            try MemberLinks.resolve(member, source: "manifest.json") { Self.links[$0] }
        } throws: { error in
            "\(error)".contains(expected) && "\(error)".contains("manifest.json")
        }
    }
}
