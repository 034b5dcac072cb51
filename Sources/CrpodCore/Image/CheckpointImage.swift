/// podman's and CRI-O's checkpoint image (`podman container checkpoint --create-image`,
/// `buildah config --annotation=io.kubernetes.cri-o.annotations.checkpoint.name=…`): an OCI
/// image with one uncompressed layer holding the checkpoint archive's members, no rootfs,
/// marked by annotations on its manifest. podman (libimage's inspect) and CRI-O
/// (checkpointctl's metadata keys) read the manifest's annotations and treat an image as a
/// checkpoint when it has the `checkpoint.name` key of their set.
public enum CheckpointImage {
    public static let podmanPrefix = "io.podman.annotations.checkpoint."
    public static let crioPrefix = "io.kubernetes.cri-o.annotations.checkpoint."
    /// The container's human-readable name: the key both tools detect a checkpoint image by.
    public static let podmanName = podmanPrefix + "name"
    public static let crioName = crioPrefix + "name"

    /// What the annotations say; nil fields are left out.
    public struct Facts: Sendable, Equatable {
        public var name: String
        public var rootfsImageName: String?
        public var rootfsImageID: String?
        public var runtimeName: String?
        public var runtimeVersion: String?
        public var criuVersion: String?

        public init(name: String, rootfsImageName: String? = nil, rootfsImageID: String? = nil,
                    runtimeName: String? = nil, runtimeVersion: String? = nil, criuVersion: String? = nil) {
            self.name = name
            self.rootfsImageName = rootfsImageName
            self.rootfsImageID = rootfsImageID
            self.runtimeName = runtimeName
            self.runtimeVersion = runtimeVersion
            self.criuVersion = criuVersion
        }
    }

    /// Both tools' keys. podman's `podman.version` and `conmon.version` are not written: crpod
    /// is neither, and podman's restore reads neither (it needs only `checkpoint.name`).
    /// CRI-O's set has no runtime keys; its `rawImageName` is the rootfs image's name.
    public static func annotations(_ facts: Facts) -> [String: String] {
        let shared: [String: String?] = [
            "name": facts.name, "rootfsImageName": facts.rootfsImageName, "rawImageName": facts.rootfsImageName,
            "rootfsImageID": facts.rootfsImageID, "criu.version": facts.criuVersion,
        ]
        let podmanOnly: [String: String?] = ["runtime.name": facts.runtimeName, "runtime.version": facts.runtimeVersion]
        var result: [String: String] = [:]
        for (key, value) in shared { if let value { result[podmanPrefix + key] = value; result[crioPrefix + key] = value } }
        for (key, value) in podmanOnly { if let value { result[podmanPrefix + key] = value } }
        return result
    }

    /// The container name a checkpoint image's annotations carry (podman's key, else CRI-O's);
    /// nil for an ordinary image.
    public static func containerName(_ annotations: [String: String]?) -> String? {
        guard let annotations else { return nil }
        return annotations[podmanName] ?? annotations[crioName]
    }
}
