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
        problems(readFacts(images: images), spec: spec, rootPath: rootPath, lsmProfileGiven: lsmProfileGiven)
    }

    /// Reads and decodes what the rule looks at (the slow part: an import does it before it
    /// takes the state lock).
    static func readFacts(images: String) -> Result<RestoredImageFacts, UnreadableImages> {
        do {
            let names = try Files.listDirectory(images)
            let present = Set(names)
            return .success(try RestoredImageFacts.read(imageNames: names) { name in
                present.contains(name) ? try Files.read(images + "/" + name, limit: imageLimit) : nil
            })
        } catch {
            return .failure(UnreadableImages(problem: "the checkpoint images cannot be checked: \(error)"))
        }
    }

    /// The rule on facts already read, against the final spec.
    static func problems(_ reading: Result<RestoredImageFacts, UnreadableImages>, spec: OCISpec, rootPath: String?,
                         lsmProfileGiven: Bool) -> [String] {
        switch reading {
        case let .failure(unreadable):
            return [unreadable.problem]
        case let .success(facts):
            var host = host(spec: spec, rootPath: rootPath)
            host.lsmProfileGiven = lsmProfileGiven
            return RestoredPrivilegeRule.problems(facts, spec: spec, host: host)
        }
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

/// Images the rule could not read or decode; the rule reports it as a problem.
struct UnreadableImages: Error, Sendable {
    let problem: String
}

extension Engine {
    /// Refuses the restore with every problem when the images would restore more than the spec
    /// gives a fresh container; `--trust-archive` (root CLI only) skips it.
    func enforceImageRule(_ request: RestoreRequest, images: String, spec: OCISpec, rootPath: String?, lsmProfileGiven: Bool) throws {
        try enforceImageRule(request, images: images, facts: nil, spec: spec, rootPath: rootPath, lsmProfileGiven: lsmProfileGiven)
    }

    /// The same with the image facts read earlier (nil: read them now).
    func enforceImageRule(_ request: RestoreRequest, images: String, facts: Result<RestoredImageFacts, UnreadableImages>?,
                          spec: OCISpec, rootPath: String?, lsmProfileGiven: Bool) throws {
        guard !request.trustArchive else {
            logger.warning("image rule skipped (--trust-archive)", metadata: ["path": "\(images)"])
            return
        }
        let problems = ImageRuleCheck.problems(facts ?? ImageRuleCheck.readFacts(images: images), spec: spec, rootPath: rootPath, lsmProfileGiven: lsmProfileGiven)
        if !problems.isEmpty { throw EngineError.imageRuleRefused(problems: problems) }
    }
}
