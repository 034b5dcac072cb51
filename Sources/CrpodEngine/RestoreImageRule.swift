import CrpodCore
import CrpodLinux

/// Reads what CRIU will restore from an image directory and checks it against the final spec
/// (CrpodCore's `RestoredPrivilegeRule`). Runs before any process starts.
enum ImageRuleCheck {
    /// Images larger than this are not privilege images CRIU writes for a container; refusing
    /// them keeps a hostile archive from making the check read without bound.
    static let imageLimit = 16 << 20

    /// Every problem the rule finds (empty: the images stay within the spec). An image that
    /// cannot be read or decoded is a problem too: the rule cannot vouch for it.
    static func problems(images: String, spec: OCISpec, rootPath: String?, lsmProfileGiven: Bool = false) -> [String] {
        let facts: RestoredImageFacts
        do {
            let names = try Files.listDirectory(images)
            let present = Set(names)
            facts = try RestoredImageFacts.read(imageNames: names) { name in
                present.contains(name) ? try Files.read(images + "/" + name, limit: imageLimit) : nil
            }
        } catch {
            return ["the checkpoint images cannot be checked: \(error)"]
        }
        var host = host(spec: spec, rootPath: rootPath)
        host.lsmProfileGiven = lsmProfileGiven
        return RestoredPrivilegeRule.problems(facts, spec: spec, host: host)
    }

    /// The spec's masked and read-only paths that do not exist here: /proc and /sys paths
    /// are looked up on the host (same kernel), others in the container's rootfs.
    static func host(spec: OCISpec, rootPath: String?) -> ImageRuleHost {
        let absent = RestoredPrivilegeRule.protectedPaths(spec).filter { path in
            let kernel = PathText.isUnder(path, "/proc") || PathText.isUnder(path, "/sys")
            if kernel { return !Files.exists(path) }
            guard let rootPath else { return false }
            return !Files.exists(rootPath + path)
        }
        return ImageRuleHost(absentPaths: Set(absent))
    }
}

extension Engine {
    /// Refuses the restore with every problem when the images would restore more than the spec
    /// gives a fresh container; `--trust-archive` (root CLI only) skips it.
    func enforceImageRule(_ request: RestoreRequest, images: String, spec: OCISpec, rootPath: String?, lsmProfileGiven: Bool) throws {
        guard !request.trustArchive else {
            logger.warning("image rule skipped (--trust-archive)", metadata: ["path": "\(images)"])
            return
        }
        let problems = ImageRuleCheck.problems(images: images, spec: spec, rootPath: rootPath, lsmProfileGiven: lsmProfileGiven)
        if !problems.isEmpty { throw EngineError.imageRuleRefused(problems: problems) }
    }
}
