#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import CrpodCore

private func parse(_ text: String) throws -> JSONValue {
    try JSONValue.parse(Data(text.utf8), context: "test")
}

private func text(_ value: JSONValue, pretty: Bool = false) throws -> String {
    String(decoding: try value.encoded(pretty: pretty), as: UTF8.self)
}

@Suite("JSONValue")
struct JSONValueTests {
    @Test func decodesEachKind() throws {
        let value = try parse(#"{"n":null,"b":true,"i":-42,"d":1.5,"s":"x","a":[1,"y"],"o":{"k":false}}"#)
        #expect(value["n"] == .null)
        #expect(value["b"] == .bool(true))
        #expect(value["i"] == .int(-42))
        #expect(value["d"] == .double(1.5))
        #expect(value["s"] == .string("x"))
        #expect(value["a"] == .array([.int(1), .string("y")]))
        #expect(value["o"] == .object(["k": .bool(false)]))
    }

    @Test func integersStayExact() throws {
        let value = try parse(#"[9223372036854775807, -9223372036854775808, 18446744073709551615, 9007199254740993]"#)
        #expect(value.arrayValue == [
            .int(Int64.max), .int(Int64.min), .uint(UInt64.max), .int(9_007_199_254_740_993),
        ])
        #expect(try text(value) == "[9223372036854775807,-9223372036854775808,18446744073709551615,9007199254740993]")
    }

    /// Found by fuzz-spec in CI: a number whose text is not an integer but whose Double is
    /// whole was kept as `double`, encoded as an integer-valued number and read back as `int`.
    @Test func wholeDoublesReadAsIntegersSoTheyRoundTrip() throws {
        let value = try parse(#"[18446507346744040.00000000001, 10000000000000000000.3, 0.5, 1e300]"#)
        #expect(value == .array([.int(18_446_507_346_744_040), .uint(10_000_000_000_000_000_000), .double(0.5), .double(1e300)]))
        #expect(try JSONValue.parse(value.encoded(pretty: false), context: "test") == value)
    }

    @Test func bigUnsignedRlimitRoundTrips() throws {
        let source = #"{"rlimits":[{"hard":18446744073709551615,"soft":18446744073709551615,"type":"RLIMIT_NOFILE"}]}"#
        let value = try parse(source)
        #expect(value.value(atPath: ["rlimits"])?.arrayValue?.first?["hard"]?.uint64Value == UInt64.max)
        #expect(try text(value) == source)
        #expect(try parse(text(value)) == value)
    }

    @Test func unknownFieldsSurviveRoundTrip() throws {
        let source = #"{"future":{"deep":[{"x":1,"y":[null,true,2.25]}],"url":"https://a/b"},"known":"v"}"#
        let value = try parse(source)
        #expect(try text(value) == source, "sorted keys, unescaped slashes, nothing dropped")
        #expect(try parse(text(value, pretty: true)) == value)
    }

    @Test func encodingSortsKeys() throws {
        let value: JSONValue = ["b": 1, "a": ["d": 2, "c": 3]]
        #expect(try text(value) == #"{"a":{"c":3,"d":2},"b":1}"#)
    }

    @Test func unsignedInitPrefersInt() {
        #expect(JSONValue(UInt64(5)) == .int(5))
        #expect(JSONValue(UInt64.max) == .uint(UInt64.max))
    }

    @Test(arguments: ["", "{", #"{"a":}"#, "[1 2]", "nul", "{\"a\" 1}"])
    func invalidJSONNamesContext(_ source: String) {
        #expect {
            _ = try JSONValue.parse(Data(source.utf8), context: "/run/crpod/x/config.json")
        } throws: { error in
            guard case let .invalidJSON(context, _) = error as? CoreError else { return false }
            let message = (error as? CoreError)?.description ?? ""
            return context == "/run/crpod/x/config.json" && message.contains(context) && !message.contains("\n")
        }
    }

    @Test func nonFiniteDoubleFailsToEncode() {
        #expect(throws: CoreError.self) { _ = try JSONValue.double(.nan).encoded() }
    }

    @Test func accessorsRejectOtherKinds() {
        let value: JSONValue = "text"
        #expect(value.stringValue == "text")
        #expect(value.int64Value == nil)
        #expect(value.arrayValue == nil)
        #expect(value.objectValue == nil)
        #expect(value.boolValue == nil)
        #expect(value["key"] == nil)
        #expect(JSONValue.uint(UInt64.max).int64Value == nil)
        #expect(JSONValue.double(3).int64Value == 3)
        #expect(JSONValue.array(["a", 1]).stringArrayValue == nil)
    }

    @Test func subscriptSetAndRemove() {
        var value: JSONValue = ["keep": 1, "drop": 2]
        value["drop"] = nil
        value["new"] = "x"
        #expect(value == ["keep": 1, "new": "x"])
        var scalar: JSONValue = 7
        scalar["gone"] = nil
        #expect(scalar == 7, "removing from a non-object changes nothing")
    }

    @Test func setValueAtPathCreatesAndRemoves() {
        var value: JSONValue = ["linux": ["other": true]]
        value.setValue("/x", atPath: ["linux", "cgroupsPath"])
        value.setValue(1, atPath: ["new", "deep", "leaf"])
        #expect(value == ["linux": ["other": true, "cgroupsPath": "/x"], "new": ["deep": ["leaf": 1]]])
        value.setValue(nil, atPath: ["missing", "leaf"])
        #expect(value["missing"] == nil, "removing never creates intermediates")
        value.setValue(nil, atPath: ["linux", "cgroupsPath"])
        #expect(value.value(atPath: ["linux"]) == ["other": true])
    }
}
