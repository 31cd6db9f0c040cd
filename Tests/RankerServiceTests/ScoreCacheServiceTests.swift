import Foundation
import PairEngine
import TestSupport
import Testing

@testable import PairRanker
@testable import RankerService

/// The exact score cache wired into the service: same answers with and without it, repeated pairs
/// cost no forward, `Cache-Control: no-cache` bypasses it, and /metrics says so.
@Suite struct ScoreCacheServiceTests {
    static func rankBody(_ k: Int) -> String {
        Support.body([("input", .string("question \(k)")), ("candidates", Support.strings(["yes", "no", "maybe \(k)"]))])
    }

    @Test("a repeated request is answered from the cache, bit-identical, with usage.cached")
    func repeated() throws {
        let cached = RankerService(model: Support.model, engine: DirectEngine(model: Support.model), cache: ScoreCache(capacityBytes: 1 << 20))
        for k in 0..<5 {
            let body = Array(Self.rankBody(k).utf8)
            let plain = try Support.service.handle(.rank, body: body, context: RequestContext(id: "plain"))
            let first = try cached.handle(.rank, body: body, context: RequestContext(id: "a"))
            let second = try cached.handle(.rank, body: body, context: RequestContext(id: "b"))
            let bypass = try cached.handle(.rank, body: body, context: RequestContext(id: "c", useCache: false))
            for r in [first, second, bypass] { #expect(r["scores"] == plain["scores"] && r["ranks"] == plain["ranks"]) }
            #expect(first["usage"]?["pairs"]?.number == 6 && first["usage"]?["cached"]?.number == 0)
            #expect(second["usage"]?["pairs"]?.number == 0 && second["usage"]?["cached"]?.number == 6)
            #expect(bypass["usage"]?["pairs"]?.number == 6 && bypass["usage"]?["cached"]?.number == 0)
        }
        // A compare of A and B reuses the two sequences a 2-candidate rank computed.
        let rank = try cached.handle(.rank, body: Array(#"{"input":"2+2?","candidates":["4","5"]}"#.utf8), context: RequestContext(id: "r"))
        let cmp = try cached.handle(.compare, body: Array(#"{"input":"2+2?","candidate_a":"4","candidate_b":"5"}"#.utf8), context: RequestContext(id: "c"))
        #expect(cmp["usage"]?["cached"]?.number == 2 && cmp["usage"]?["pairs"]?.number == 0)
        #expect(Float(cmp["logit"]?.number ?? .nan) == 2 * Float(rank["scores"]?.items.first?.number ?? .nan))
        let s = cached.cache!.stats
        #expect(s.hits >= 32 && s.entries > 0)
    }

    @Test("the server: --cache-mb, Cache-Control: no-cache, and the cache's metrics with HELP and TYPE")
    func live() throws {
        let port = 20000 + Int(getpid() % 20000) + 23
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.executable)
        p.arguments = ["serve", "--model", Support.modelDir, "--port", String(port), "--cache-mb", "1"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        var up = false
        for _ in 0..<600 where !up {
            if let c = try? RawHTTPClient(port: port) { c.send(RawHTTPClient.request("GET", "/ready")); up = c.read()?.status == 200 }
            if !up { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(up)
        let c = try RawHTTPClient(port: port)
        let body = Self.rankBody(99)
        func rank(_ headers: [String: String] = [:]) throws -> JSON {
            c.send(RawHTTPClient.request("POST", "/rank", body: body, headers: headers))
            let r = try #require(c.read())
            #expect(r.status == 200)
            return try JSON.parse(Array(r.body))
        }
        let first = try rank(), second = try rank()
        let fresh = try rank(["Cache-Control": "max-age=0, No-Cache"])
        #expect(first["scores"] == second["scores"] && second["scores"] == fresh["scores"])
        #expect(second["usage"]?["cached"]?.number == 6 && fresh["usage"]?["cached"]?.number == 0)
        c.send(RawHTTPClient.request("GET", "/metrics"))
        let text = String(decoding: try #require(c.read()).body, as: UTF8.self)
        #expect(text.contains("pairranker_cache_hits_total 6"), "\(text)")
        #expect(text.contains("pairranker_cache_capacity_bytes 1048576"))
        #expect(text.contains(#"pairranker_build_info{version=""#))
        #expect(text.contains("process_resident_memory_bytes "))
        #expect(text.contains(#"pairranker_request_duration_seconds_count{route="/rank"} 3"#), "durations carry the route")
        // Every sample's metric family has a HELP and a TYPE line before it.
        var described: Set<String> = [], typed: Set<String> = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if line.hasPrefix("# HELP "), parts.count > 2 { described.insert(String(parts[2])); continue }
            if line.hasPrefix("# TYPE "), parts.count > 3 { typed.insert(String(parts[2])); continue }
            var name = String(line.prefix { $0 != "{" && $0 != " " })
            for suffix in ["_bucket", "_sum", "_count"] where !typed.contains(name) && name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
            #expect(described.contains(name) && typed.contains(name), "\(name) has HELP and TYPE")
        }
    }
}
