import Testing
@testable import CrpodEngine

@Suite("crpod check: the conntrack table's size")
struct ConntrackAdviceTests {
    @Test func aLargeTableIsAdvisedAgainstWithTheFix() {
        let fact = ConntrackAdvice.fact(buckets: 262144)
        #expect(!fact.ok && !fact.required)
        #expect(fact.detail.contains("262144 hash buckets") && fact.detail.contains("frozen time"))
        #expect(fact.fix?.contains("net.netfilter.nf_conntrack_buckets=16384") == true)
    }

    @Test func aSmallTableOrNoneIsFine() {
        #expect(ConntrackAdvice.fact(buckets: 16384).ok)
        #expect(ConntrackAdvice.fact(buckets: 65536).fix == nil)
        let none = ConntrackAdvice.fact(buckets: nil)
        #expect(none.ok && none.detail.contains("not loaded"))
    }
}
