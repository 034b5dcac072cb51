/// The container's root filesystem changes, as podman stores them in a checkpoint:
/// `rootfs-diff.tar` (uncompressed, member names relative to the root like `etc/hosts`) and
/// the deleted paths that go to `deleted.files` (a JSON array of `"/etc/removed"` strings —
/// podman's `CRCreateRootFsDiffTar` takes them from `podman diff`, whose paths start with `/`,
/// and `CRRemoveDeletedFiles` joins each onto the new root and removes it recursively).
///
/// crpod reads the overlay upper directory directly instead of diffing layers:
/// - whiteouts (character devices 0:0) are deleted paths, not members;
/// - opaque directories (`trusted.overlay.opaque=y`: the directory was removed and
///   recreated) are added as plain directories. Podman's diff does not mark them either, so
///   lower-layer files inside them reappear on restore in both tools;
/// - devices and fifos are added as such (import validates them); sockets are skipped
///   (tar cannot hold them) and reported in `Result.skipped`;
/// - multiply-linked files keep their links as tar hardlinks; `security.capability` and
///   `user.*` xattrs are kept, overlay and SELinux xattrs are not.
///
/// `apply` (RootfsDiff+Apply.swift) does the reverse on restore: the tar and the deleted
/// paths (as whiteouts) into an empty upper directory.
public enum RootfsDiff {
    public static let tarName = "rootfs-diff.tar"
    public static let deletedFilesName = "deleted.files"

    public struct Result: Sendable, Equatable {
        /// Deleted paths in podman's `deleted.files` form ("/etc/removed"), sorted.
        public var deleted: [String]
        /// Member names left out of the tar (sockets).
        public var skipped: [String]
    }

    /// Writes `tarPath` (mode 0600, atomically) and returns the deleted paths.
    public static func build(upperDirectory: String, tarPath: String) throws(ArchiveError) -> [String] {
        try diff(upperDirectory: upperDirectory, tarPath: tarPath).deleted
    }

    public static func diff(upperDirectory: String, tarPath: String) throws(ArchiveError) -> Result {
        let writer = try ArchiveWriter(destination: tarPath, compression: .none)
        do throws(ArchiveError) {
            let tree = try writer.addTree(at: upperDirectory, prefix: "", policy: .rootfsDiff)
            try writer.finish(manifestName: nil)
            return Result(deleted: tree.whiteouts, skipped: tree.skipped)
        } catch {
            writer.abort()
            throw error
        }
    }
}
