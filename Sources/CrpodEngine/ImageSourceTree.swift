import CrpodArchive
import CrpodCore
import CrpodLinux

/// An image source on disk and the symbolic links among its members: those recorded when its
/// tar was extracted (the extractor writes none, so the tree holds only files and directories),
/// or, for a directory given as is, those in the directory. Every member is looked up through
/// `MemberLinks` (relative links inside the source only) and then opened beneath the directory
/// with no symbolic link on the way, so a link swapped in afterwards is refused, not followed.
struct ImageSourceTree {
    let directory: String
    /// nil: read the links from the directory itself.
    let links: [String: String]?

    /// The member `name` resolved; refused (naming it and the link) when a link leads out.
    func resolve(_ name: String, source: String) throws -> String {
        try MemberLinks.resolve(name, source: source) { linked in
            guard let links else { return Files.readLink(directory + "/" + linked) }
            return links[linked]
        }
    }

    /// The full path of the member `name`, resolved.
    func path(_ name: String, source: String) throws -> String {
        directory + "/" + (try resolve(name, source: source))
    }

    /// Whether `name` resolves to something that exists; a link out of the source throws.
    func exists(_ name: String) throws -> Bool {
        Files.exists(try path(name, source: directory + "/" + name))
    }

    /// A document member (manifest, index, config), at most `OCIDocuments.maxDocumentBytes`.
    func document(_ name: String, source: String) throws -> [UInt8] {
        let relative = try resolve(name, source: source)
        let path = directory + "/" + relative
        return try step("read \(path)") {
            try OpenedFile.open(beneath: directory, relative: relative, path: path, maxBytes: UInt64(OCIDocuments.maxDocumentBytes)).readAll()
        }
    }
}
