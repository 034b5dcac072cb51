/// One thread CRIU will recreate, with the privileges its `core-<tid>.img` gives it.
public struct RestoredThread: Sendable, Equatable, Codable {
    /// The task (thread group leader) it belongs to, as in `pstree.img`.
    public var pid: Int32
    public var tid: Int32
    public var core: CRIUThreadCore

    public init(pid: Int32, tid: Int32, core: CRIUThreadCore) {
        self.pid = pid
        self.tid = tid
        self.core = core
    }
}

/// One mount namespace image: its name and every mount in it.
public struct RestoredMountNamespace: Sendable, Equatable, Codable {
    public var image: String
    public var mounts: [CRIUMountEntry]

    public init(image: String, mounts: [CRIUMountEntry]) {
        self.image = image
        self.mounts = mounts
    }
}

/// What CRIU will restore that carries privilege, read from a checkpoint's images: every
/// thread's credentials and seccomp state, the seccomp filters, every mount namespace's
/// mounts and every user namespace's id maps. Pure: the caller hands in the image bytes.
public struct RestoredImageFacts: Sendable, Equatable, Codable {
    public var threads: [RestoredThread]
    public var seccomp: CRIUSeccomp?
    public var mountNamespaces: [RestoredMountNamespace]
    public var userNamespaces: [String: CRIUUserNamespace]

    public init(threads: [RestoredThread], seccomp: CRIUSeccomp? = nil,
                mountNamespaces: [RestoredMountNamespace] = [], userNamespaces: [String: CRIUUserNamespace] = [:]) {
        self.threads = threads
        self.seccomp = seccomp
        self.mountNamespaces = mountNamespaces
        self.userNamespaces = userNamespaces
    }

    /// Reads the facts from the image directory's file names and a loader for one image's
    /// bytes (nil: the image does not exist). Every thread of `pstree.img` needs its
    /// `core-<tid>.img`; a missing or malformed image is an error, never a pass.
    public static func read(imageNames: [String], load: (String) throws -> [UInt8]?) throws -> RestoredImageFacts {
        func required(_ name: String) throws -> [UInt8] {
            guard let bytes = try load(name) else {
                throw CheckpointProblem.malformedImage(image: name, offset: 0, reason: "the image is missing")
            }
            return bytes
        }
        let pstree = try CRIUPstree.decode(required("pstree.img"))
        var threads: [RestoredThread] = []
        for entry in pstree.entries {
            let leaderName = "core-\(entry.pid).img"
            let leader = try CRIUThreadCore.decode(required(leaderName), image: leaderName)
            threads.append(RestoredThread(pid: entry.pid, tid: entry.pid, core: leader))
            // A zombie has no threads to restore; CRIU 4.2.1 writes an uninitialised thread id
            // for one (and no core image for it), which must not fail a real checkpoint.
            guard !leader.isZombie else { continue }
            for tid in Set(entry.threads).subtracting([entry.pid]).sorted() {
                let name = "core-\(tid).img"
                threads.append(RestoredThread(pid: entry.pid, tid: tid, core: try CRIUThreadCore.decode(required(name), image: name)))
            }
        }
        var facts = RestoredImageFacts(threads: threads)
        if let bytes = try load(CRIUSeccomp.imageName) { facts.seccomp = try CRIUSeccomp.decode(bytes) }
        for name in imageNames.sorted() {
            if CRIUImageName.id(of: name, prefix: "mountpoints-") != nil {
                facts.mountNamespaces.append(RestoredMountNamespace(image: name, mounts: try CRIUMountpoints.decode(required(name), image: name)))
            } else if CRIUImageName.id(of: name, prefix: "userns-") != nil {
                facts.userNamespaces[name] = try CRIUUserNamespace.decode(required(name), image: name)
            }
        }
        return facts
    }
}
