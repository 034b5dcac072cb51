import CrpodArchive
import CrpodCore
import CrpodDrivers

// API clients send only what they mean: every field with a default may be left out.

extension RestoreRequest {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(importPath: try c.decodeIfPresent(String.self, forKey: .importPath), container: try c.decodeIfPresent(String.self, forKey: .container))
        pod = try c.decodeIfPresent(String.self, forKey: .pod)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        rootfs = try c.decodeIfPresent(String.self, forKey: .rootfs)
        ignoreRootfs = try c.decodeIfPresent(Bool.self, forKey: .ignoreRootfs) ?? false
        tcpEstablished = try c.decodeIfPresent(Bool.self, forKey: .tcpEstablished)
        fileLocks = try c.decodeIfPresent(Bool.self, forKey: .fileLocks) ?? false
        keep = try c.decodeIfPresent(Bool.self, forKey: .keep) ?? false
        allowPrivatePID = try c.decodeIfPresent(Bool.self, forKey: .allowPrivatePID) ?? false
    }
}

extension CheckpointRequest {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(export: try c.decodeIfPresent(String.self, forKey: .export), compression: try c.decodeIfPresent(CompressionMethod.self, forKey: .compression))
        leaveRunning = try c.decodeIfPresent(Bool.self, forKey: .leaveRunning) ?? false
        tcpEstablished = try c.decodeIfPresent(Bool.self, forKey: .tcpEstablished) ?? false
        fileLocks = try c.decodeIfPresent(Bool.self, forKey: .fileLocks) ?? false
        ignoreRootfs = try c.decodeIfPresent(Bool.self, forKey: .ignoreRootfs) ?? false
        keep = try c.decodeIfPresent(Bool.self, forKey: .keep) ?? false
    }
}

extension PodCreateRequest {
    enum CodingKeys: String, CodingKey { case name, shares, cgroupParent, hostname, network, staticIP, publish, shmSize }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), shares: try c.decodeIfPresent([String].self, forKey: .shares) ?? ShareList.podDefault,
                  cgroupParent: try c.decodeIfPresent(String.self, forKey: .cgroupParent), hostname: try c.decodeIfPresent(String.self, forKey: .hostname),
                  network: try c.decodeIfPresent(String.self, forKey: .network), staticIP: try c.decodeIfPresent(String.self, forKey: .staticIP),
                  publish: try c.decodeIfPresent([CNIPortMapping].self, forKey: .publish) ?? [])
        shmSize = try c.decodeIfPresent(UInt64.self, forKey: .shmSize)
    }
}

extension RunRequest {
    /// `seccomp`: "default", "unconfined" or a profile object (absent: the default profile).
    enum CodingKeys: String, CodingKey { case name, pod, rootfs, image, env, workdir, command, seccomp }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), pod: try c.decodeIfPresent(String.self, forKey: .pod),
                  rootfs: try c.decodeIfPresent(String.self, forKey: .rootfs) ?? "", env: try c.decodeIfPresent([String].self, forKey: .env) ?? [],
                  workdir: try c.decodeIfPresent(String.self, forKey: .workdir) ?? "/", command: try c.decode([String].self, forKey: .command),
                  seccomp: try c.decodeIfPresent(SeccompChoice.self, forKey: .seccomp), image: try c.decodeIfPresent(String.self, forKey: .image))
    }
}

extension PodCheckpointRequest {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(export: try c.decode(String.self, forKey: .export), compression: try c.decodeIfPresent(CompressionMethod.self, forKey: .compression))
        leaveRunning = try c.decodeIfPresent(Bool.self, forKey: .leaveRunning) ?? false
        tcpEstablished = try c.decodeIfPresent(Bool.self, forKey: .tcpEstablished) ?? false
        fileLocks = try c.decodeIfPresent(Bool.self, forKey: .fileLocks) ?? false
        ignoreRootfs = try c.decodeIfPresent(Bool.self, forKey: .ignoreRootfs) ?? false
    }
}

extension PodRestoreRequest {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(importPath: try c.decode(String.self, forKey: .importPath))
        name = try c.decodeIfPresent(String.self, forKey: .name)
        ignoreStaticIP = try c.decodeIfPresent(Bool.self, forKey: .ignoreStaticIP) ?? false
        ignoreStaticMAC = try c.decodeIfPresent(Bool.self, forKey: .ignoreStaticMAC) ?? false
        publish = try c.decodeIfPresent([CNIPortMapping].self, forKey: .publish)
        cgroupParent = try c.decodeIfPresent(String.self, forKey: .cgroupParent)
        // Absent: decided from the archive (RestoreRequest.tcpEstablished), as the spool does.
        tcpEstablished = try c.decodeIfPresent(Bool.self, forKey: .tcpEstablished)
        fileLocks = try c.decodeIfPresent(Bool.self, forKey: .fileLocks) ?? false
        keep = try c.decodeIfPresent(Bool.self, forKey: .keep) ?? false
    }
}
