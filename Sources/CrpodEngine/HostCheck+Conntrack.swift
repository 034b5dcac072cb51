import CrpodLinux

/// The conntrack hash table's size, as it costs every checkpoint's frozen time.
///
/// Why: CRIU dumps the conntrack table and its expectations (`dump_nf_ct`, two netlink dumps)
/// for every network namespace it meets, a pod's external one included, and the kernel walks
/// every bucket of the one global hash for each dump. Measured here (native engine, busybox
/// counter, 6 runs each): frozen time median 52 ms with 262144 buckets (this 24 GiB host's
/// default), 39 ms with 16384; the namespace step went from ~20 ms to ~2 ms.
enum ConntrackAdvice {
    static let bucketsPath = "/proc/sys/net/netfilter/nf_conntrack_buckets"
    /// Above this, the walk shows in the frozen time.
    static let advisedBuckets = 65536

    /// The fact for `buckets` (nil: conntrack is not loaded, nothing to walk). Never required.
    static func fact(buckets: Int?) -> CheckFact {
        guard let buckets else {
            return CheckFact(name: "conntrack table", ok: true, detail: "nf_conntrack not loaded: CRIU has no table to walk", fix: nil, required: false)
        }
        let small = buckets <= advisedBuckets
        return CheckFact(
            name: "conntrack table", ok: small,
            detail: "\(buckets) hash buckets" + (small ? "" : ": CRIU walks the whole table twice in every dump, a pod's own network namespace "
                + "included (about 20 ms of frozen time at 262144 buckets, 2 ms at 16384, measured here)"),
            fix: small ? nil : "if this host tracks fewer connections: sysctl -w net.netfilter.nf_conntrack_buckets=16384 (persist it in /etc/sysctl.d)",
            required: false)
    }
}

extension Engine {
    func conntrackFact() -> CheckFact {
        ConntrackAdvice.fact(buckets: (try? Files.readText(ConntrackAdvice.bucketsPath)).flatMap { Int($0.filter { !$0.isWhitespace }) })
    }
}
