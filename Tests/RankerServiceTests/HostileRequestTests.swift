import Foundation
import PairEngine
import PairRanker
import TestSupport
import Testing

@testable import HTTPServer
@testable import RankerHTTP
@testable import RankerService

/// Requests an adversarial client would send, straight into RankerHTTPApp (no sockets): none may
/// trap, each gets a clear status, and wire values (headers, numbers) are checked before use.
@Suite struct HostileRequestTests {
    static func app(apiKey: String? = nil, timeout: Double = 120, service: RankerService = Support.service) -> RankerHTTPApp {
        var settings = RankerHTTPApp.Settings()
        settings.apiKey = apiKey
        settings.requestTimeout = timeout
        let app = RankerHTTPApp(metrics: Metrics(), settings: settings, log: { _ in })
        app.attach(service: service, info: .object([]))
        app.setReady(true)
        return app
    }

    static func send(_ app: RankerHTTPApp, _ method: String, _ path: String, headers: [(String, String)] = [],
                     body: String = "") -> HTTPResponse {
        let request = HTTPRequest(method: method, target: path, version: .http11,
                                  headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8))
        return app.handle(request, HTTPRequestContext(remoteAddress: "test"))
    }

    static let rank = #"{"input":"2+2?","candidates":["4","5"]}"#

    @Test("Content-Type empty, ';' or parameters only: an answer, never a trap")
    func contentTypes() {
        let app = Self.app()
        let cases: [(String, Int)] = [
            ("", 200), ("   ", 200), (";", 415), (" ; charset=utf-8", 415), (";;;", 415),
            ("application/json;", 200), ("application/json; charset=utf-8", 200), ("APPLICATION/JSON", 200),
            ("application/xml", 415), ("text/plain;", 200),
        ]
        for (type, status) in cases {
            let r = Self.send(app, "POST", "/rank", headers: [("Content-Type", type)], body: Self.rank)
            #expect(r.status == status, "Content-Type \(type.debugDescription): \(r.status) \(String(decoding: r.body, as: UTF8.self))")
            if status == 415 {
                #expect(String(decoding: r.body, as: UTF8.self).contains("Content-Type"), "the message names the header")
            }
        }
        #expect(RankerHTTPApp.acceptable(contentType: "") && !RankerHTTPApp.acceptable(contentType: ";"))
    }

    @Test("X-Request-Timeout that is not a positive finite number gets 400 naming the header")
    func requestTimeoutHeader() {
        let app = Self.app()
        for bad in ["nan", "inf", "-inf", "-1", "0", "-0", "abc", "", "1e", "0x10", "NaN", " "] {
            let r = Self.send(app, "POST", "/rank", headers: [("X-Request-Timeout", bad)], body: Self.rank)
            #expect(r.status == 400, "X-Request-Timeout \(bad.debugDescription): \(r.status)")
            #expect(String(decoding: r.body, as: UTF8.self).contains("X-Request-Timeout"))
        }
        for good in ["1e300", "1e-300", "5", " 2.5 ", "1e18", "999999999999999999999"] {
            let r = Self.send(app, "POST", "/rank", headers: [("X-Request-Timeout", good)], body: Self.rank)
            #expect(r.status == 200, "X-Request-Timeout \(good.debugDescription): \(r.status)")
        }
        // A probe never fails for a header it does not use, and a client without the key learns
        // nothing but 401.
        #expect(Self.send(app, "GET", "/health", headers: [("X-Request-Timeout", "nan")]).status == 200)
        let secured = Self.app(apiKey: "k")
        #expect(Self.send(secured, "POST", "/rank", headers: [("X-Request-Timeout", "nan")], body: Self.rank).status == 401)
        #expect(Self.send(secured, "POST", "/rank", headers: [("X-Request-Timeout", "nan"), ("Authorization", "Bearer k")],
                          body: Self.rank).status == 400)
    }

    @Test("a request deadline is computed without overflow whatever the timeout")
    func deadlineArithmetic() {
        let now = DispatchTime.now().uptimeNanoseconds
        #expect(RankerHTTPApp.deadline(start: now, seconds: 1) == now + 1_000_000_000)
        #expect(RankerHTTPApp.deadline(start: now, seconds: 1e-300) == now)
        for s in [1e12, 1e300, Double.infinity, Double.greatestFiniteMagnitude] {
            #expect(RankerHTTPApp.deadline(start: now, seconds: s) == nil, "\(s): no deadline rather than a wrapped one")
        }
        #expect(RankerHTTPApp.deadline(start: UInt64.max - 10, seconds: 1) == nil)
        for s in [Double.nan, -1, -Double.infinity, 0] {
            #expect(RankerHTTPApp.deadline(start: now, seconds: s) == now, "\(s): already due")
        }
        // Huge or odd server settings answer too (the CLI validates them; the app must not trap).
        for t in [1e12, 1e300, Double.infinity, Double.nan, -1] {
            let app = Self.app(timeout: t)
            #expect(Self.send(app, "GET", "/health").status == 200, "requestTimeout \(t)")
            let r = Self.send(app, "POST", "/rank", body: Self.rank)
            #expect(r.status == 200 || r.status == 504, "requestTimeout \(t): \(r.status)")
        }
    }

    @Test("integers from the wire: huge, negative or fractional seeds, top_n and lengths get 400/422 naming the field")
    func wireIntegers() throws {
        let app = Self.app()
        func status(_ path: String, _ body: String) -> (Int, String) {
            let r = Self.send(app, "POST", path, body: body)
            return (r.status, String(decoding: r.body, as: UTF8.self))
        }
        let bubble = #"{"input":"q","candidates":["a","b","c"],"mode":"bubble","seed":"#
        let cases: [(String, String, Int, String)] = [
            ("/rank", bubble + "-1}", 422, "seed"),
            ("/rank", bubble + "1.5}", 400, "seed: expected an integer, got a fraction"),
            ("/rank", bubble + "1e16}", 422, "seed"),
            ("/rank", bubble + "1e300}", 422, "seed"),
            ("/rank", bubble + "18446744073709551615}", 422, "seed"),
            ("/rank", bubble + "-9007199254740993}", 422, "seed"),
            ("/v2/rerank", #"{"query":"q","documents":["a"],"top_n":1e300}"#, 422, "top_n"),
            ("/v2/rerank", #"{"query":"q","documents":["a"],"top_n":-1e300}"#, 422, "top_n"),
            ("/v2/rerank", #"{"query":"q","documents":["a"],"top_n":-1}"#, 422, "top_n"),
            ("/rank", #"{"input":"q","candidates":["a"],"source_max_length":1e300}"#, 422, "source_max_length"),
            ("/rank", #"{"input":"q","candidates":["a"],"source_max_length":-9e15}"#, 422, "source_max_length"),
            ("/rank", #"{"input":"q","candidates":["a"],"candidate_max_length":9007199254740992}"#, 422, "candidate_max_length"),
            ("/compare", #"{"input":"q","candidate_a":"a","candidate_b":"b","source_max_length":2}"#, 422, "source_max_length"),
        ]
        for (path, body, want, text) in cases {
            let (s, b) = status(path, body)
            #expect(s == want, "\(body): \(s) \(b)")
            #expect(b.contains(text), "\(body): \(b)")
        }
        // Large seeds that are integers are accepted and echoed as integers.
        for seed in ["1000000000000000", "1e15", "9007199254740992", "4503599627370497"] {
            let (s, b) = status("/rank", bubble + seed + "}")
            #expect(s == 200, "seed \(seed): \(b)")
            let echoed = try #require(b.range(of: #""seed":"#)).upperBound
            let digits = b[echoed...].prefix { $0 != "," && $0 != "}" }
            let allDigits = digits.allSatisfy { $0 >= "0" && $0 <= "9" }
            #expect(allDigits, "seed \(seed) echoed as \(digits)")
            #expect(UInt64(digits) == UInt64(Double(seed)!), "seed \(seed) echoed as \(digits)")
        }
        // top_n larger than the documents is all of them.
        let (s, b) = status("/v2/rerank", #"{"query":"q","documents":["a","b"],"top_n":9007199254740992}"#)
        let parsed = try JSON.parse(Array(b.utf8))
        #expect(s == 200 && parsed["results"]?.items.count == 2, "\(b)")
    }

    @Test("JSON writes integral numbers as integers at every magnitude, and round-trips them")
    func integerFormatting() throws {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "0"), (1, "1"), (-7, "-7"), (1e15, "1000000000000000"), (-1e15, "-1000000000000000"),
            (9007199254740992, "9007199254740992"), (1e16, "10000000000000000"), (1e18, "1000000000000000000"),
            (9.223372036854775e18, "9223372036854774784"), (0.5, "0.5"), (1e-7, "1e-07"),
        ]
        for (d, text) in cases { #expect(JSON.format(d) == text, "\(d)") }
        for d in [1e15, 123456789012345678, 9.3e18, 1e19, 1e300, -1e300, 2.5e-300, Double.greatestFiniteMagnitude] {
            let t = JSON.number(d).text
            #expect(try JSON.parse(Array(t.utf8)) == .number(d), "\(d) -> \(t)")
            #expect(!t.hasSuffix(".0"), "\(d) -> \(t)")
        }
        #expect(JSON.format(.nan) == "null" && JSON.format(.infinity) == "null")
    }

    @Test("a model that answers NaN, or too few logits, gets a 500 naming the fault, never a trap")
    func faultyScorer() {
        for (name, scorer) in [("nan", { (p: [PairSequence]) -> [Float] in p.map { _ in .nan } }),
                               ("inf", { (p: [PairSequence]) -> [Float] in p.map { _ in -.infinity } }),
                               ("short", { (p: [PairSequence]) -> [Float] in Array(repeating: 0, count: p.count - 1) })] as [(String, BatchingEngine.Scorer)] {
            let engine = BatchingEngine(config: BatchingEngine.Config(), scorer: scorer)
            defer { engine.shutdown() }
            let app = Self.app(service: RankerService(model: Support.model, engine: engine))
            for (path, body) in [("/rank", #"{"input":"q","candidates":["a","b","c"]}"#),
                                 ("/rank", #"{"input":"q","candidates":["a","b","c"],"mode":"bubble","seed":1}"#),
                                 ("/rank", #"{"input":"q","candidates":["a","b"],"mode":"ref"}"#),
                                 ("/compare", #"{"input":"q","candidate_a":"a","candidate_b":"b"}"#),
                                 ("/v1/rerank", #"{"query":"q","documents":["a","b"]}"#),
                                 ("/get_reward", #"{"query":["q a"],"prompts":["q"],"labels":["a"]}"#)] {
                let r = Self.send(app, "POST", path, body: body)
                let text = String(decoding: r.body, as: UTF8.self)
                #expect(r.status == 500, "\(name) \(path): \(r.status) \(text)")
                #expect(text.contains("logit"), "\(name) \(path): \(text)")
            }
        }
    }

    @Test("the Bearer scheme is case-insensitive; the key is not")
    func bearerScheme() {
        let app = Self.app(apiKey: "s3cret")
        for (value, status) in [("Bearer s3cret", 200), ("bearer s3cret", 200), ("BEARER s3cret", 200), ("bEaReR s3cret", 200),
                                ("Bearer  s3cret", 200), ("Bearer\ts3cret", 401),
                                ("Bearer S3CRET", 401), ("Bearer s3cret ", 401), ("Bearer", 401), ("Bearer ", 401), ("", 401),
                                ("Basic s3cret", 401), ("Bearers3cret", 401), ("s3cret", 401), ("Bearer s3cre", 401),
                                ("Bearer s3crett", 401)] {
            let r = Self.send(app, "POST", "/rank", headers: [("Authorization", value)], body: Self.rank)
            #expect(r.status == status, "Authorization \(value.debugDescription): \(r.status)")
        }
    }

    @Test("constant-time compare is exact for any lengths (no truncated length fold)")
    func constantTime() {
        let key = Array("k".utf8)
        #expect(RankerHTTPApp.constantTimeEqual(key, key))
        #expect(!RankerHTTPApp.constantTimeEqual(key, key + [UInt8](repeating: 0, count: 256)), "lengths 1 and 257 differ by 256")
        #expect(!RankerHTTPApp.constantTimeEqual([], [UInt8](repeating: 0, count: 512)))
        #expect(!RankerHTTPApp.constantTimeEqual([UInt8](repeating: 0, count: 1 << 16), []))
        #expect(RankerHTTPApp.constantTimeEqual([], []))
        #expect(!RankerHTTPApp.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
    }
}
