import Foundation
import PairEngine
import PairRanker
import TestSupport
import Testing

@testable import RankerService

/// /rank mode sort, and rerank of 33 to 1,000 documents by the sort, held to
/// its declared budget of forwards.
@Suite struct WireSortTests {
    static func candidates(_ n: Int) -> [String] { (0..<n).map { "answer number \($0): \(String(repeating: "x", count: $0 % 7)) \($0 * 37 % 101)" } }

    static func sortBody(_ cands: [String], seed: Int, top: Int? = nil) -> String {
        var pairs: [(String, JSON)] = [("input", .string("Which answer is best?")), ("candidates", Support.strings(cands)),
                                       ("mode", .string("sort")), ("seed", .number(Double(seed)))]
        if let top { pairs.append(("top_n", .number(Double(top)))) }
        return Support.body(pairs)
    }

    @Test("/rank mode sort: order, ranks, scores and seed as Ranking.sorted gives them; usage.pairs is the forwards spent")
    func rankSort() throws {
        let cands = Self.candidates(20)
        let r = try Support.call(.rank, Self.sortBody(cands, seed: 3))
        let order = r["order"]!.numbers.map { Int($0) }, ranks = r["ranks"]!.numbers.map { Int($0) }
        #expect(order.sorted() == Array(0..<20), "a permutation")
        #expect(r["seed"] == .number(3))
        #expect(r["scores"]!.numbers.count == 20)
        // The same computation called directly.
        let model = Support.model
        let seg = try model.segments(RankInput(input: "Which answer is best?", candidates: cands))
        let direct = try Ranking.sorted(model.assembler, seg, seed: 3) { try model.logits($0) }
        #expect(order == direct.order)
        #expect(ranks == direct.ranks)
        #expect(r["usage"]!["pairs"]!.number == Double(2 * direct.comparisons))
        #expect(2 * direct.comparisons <= RankerService.sortBudget(20, top: nil))
        // Same seed, same answer; the list form too.
        #expect(try Support.call(.rank, Self.sortBody(cands, seed: 3)) ["order"] == r["order"])
        let list = try Support.call(.rank, Support.body([("inputs", Support.strings(["Which answer is best?"])), ("candidates", .array([Support.strings(cands)])),
                                                         ("mode", .string("sort")), ("seed", .number(3))]))
        #expect(list["order"]?.items.first == r["order"])
    }

    @Test("/rank mode sort with top_n: the best top_n in order, the rest rank top_n + 1, fewer forwards")
    func rankSortTop() throws {
        let cands = Self.candidates(60)
        let whole = try Support.call(.rank, Self.sortBody(cands, seed: 9))
        let top = try Support.call(.rank, Self.sortBody(cands, seed: 9, top: 3))
        let ranks = top["ranks"]!.numbers.map { Int($0) }
        #expect(ranks.filter { $0 <= 3 }.count == 3)
        #expect(ranks.filter { $0 == 4 }.count == 57)
        #expect(top["usage"]!["pairs"]!.number! < whole["usage"]!["pairs"]!.number!)
        #expect(Int(top["usage"]!["pairs"]!.number!) <= RankerService.sortBudget(60, top: 3))
    }

    @Test("limits: full, bubble and ref up to 32 candidates, sort up to 1,000; top_n only with sort")
    func limits() {
        WireRerankTests.fails(.rank, Support.body([("input", .string("q")), ("candidates", Support.strings(Self.candidates(33)))]),
                              422, "over the limit of 32 (mode sort takes up to 1000)")
        WireRerankTests.fails(.rank, Self.sortBody(Self.candidates(1001), seed: 1), 422, "candidates: has 1001 candidates, over the limit of 1000")
        WireRerankTests.fails(.rank, Support.body([("input", .string("q")), ("candidates", Support.strings(["a", "b"])), ("top_n", .number(1))]),
                              422, "top_n: is only for mode sort")
        WireRerankTests.fails(.rank, Self.sortBody(["a", "b"], seed: 1, top: 0), 422, "top_n: must be at least 1")
        WireRerankTests.fails(.rerankV1, Support.body([("query", .string("q")), ("documents", Support.strings(Self.candidates(1001)))]),
                              422, "documents: has 1001 documents, over the limit of 1000")
        WireRerankTests.fails(.rerank, Support.body([("query", .string("q")), ("texts", Support.strings(Self.candidates(1001)))]),
                              422, "texts: has 1001 documents, over the limit of 1000")
        // 1,000 documents fit the default limits; under a lower per-request limit they are refused
        // on the count, before tokenizing.
        #expect(RankerService.sortBudget(1000, top: nil) <= ServiceLimits().maxPairsPerRequest)
        #expect(RankerService.sortBudget(1000, top: nil) <= BatchingEngine.Config().maxQueuePairs)
        var low = ServiceLimits()
        low.maxPairsPerRequest = 4096
        WireRerankTests.fails(.rerankV2, Support.body([("query", .string("q")), ("documents", Support.strings(Self.candidates(1000)))]),
                              422, "request: needs \(RankerService.sortBudget(1000, top: nil)) pair sequences, over the limit of 4096",
                              service: RankerService(model: Support.model, engine: Support.service.engine, limits: low))
    }

    /// An engine whose every comparison says "the left one is worse": c(x, pivot) < 0 for every
    /// pair, so each pivot beats its whole range and a plain quicksort would make n(n−1)/2
    /// comparisons.
    final class AdversarialEngine: InferenceEngine, @unchecked Sendable {
        func admit(pairs: Int, context: RequestContext) throws -> Admission { Admission(pairs: pairs) }
        func evaluate(_ pairs: [PairSequence], context: RequestContext) throws -> [Float] {
            context.record(queue: 0, inference: 0, pairs: pairs.count, tokens: 0)
            return pairs.indices.map { $0 % 2 == 0 ? -1 : 1 }
        }
    }

    @Test("a comparator that drives the sort quadratic gets a 422 at its budget, not n² forwards")
    func budgetHolds() throws {
        var limits = ServiceLimits()
        limits.maxPairsPerRequest = 1 << 24
        let service = RankerService(model: Support.model, engine: AdversarialEngine(), limits: limits)
        let n = 300
        WireRerankTests.fails(.rank, Self.sortBody(Self.candidates(n), seed: 1), 422, "needed more than its budget of \(RankerService.sortBudget(n, top: nil)) forwards",
                              service: service)
        WireRerankTests.fails(.rerankV1, Support.body([("query", .string("q")), ("documents", Support.strings(Self.candidates(n)))]), 422, "budget",
                              service: service)
        #expect(RankerService.sortBudget(n, top: nil) < n * (n - 1) / 4)
        // Small n: the budget is never below the full matrix's n(n−1), so a sort cannot fail.
        #expect(RankerService.sortBudget(4, top: nil) == 12)
        #expect(RankerService.sortBudget(1, top: nil) == 0)
    }

    @Test("rerank above 32 documents ranks by the sort: scores non-increasing, top_n, reproducible by seed; TEI too")
    func rerankSorted() throws {
        let docs = Self.candidates(50)
        let body = Support.body([("query", .string("Which answer is best?")), ("documents", Support.strings(docs)), ("top_n", .number(10)), ("seed", .number(5))])
        let r = try Support.call(.rerankV1, body)
        let results = r["results"]!.items
        #expect(results.count == 10)
        let scores = results.map { $0["relevance_score"]!.number! }
        #expect(scores == scores.sorted(by: >=))
        let rank = try Support.call(.rank, Self.sortBody(docs, seed: 5, top: 10))
        let order = rank["order"]!.numbers.prefix(10).map { $0 }
        #expect(results.map { $0["index"]!.number! } == Array(order), "the order of /rank mode sort with the same seed and top_n")
        #expect(try Support.call(.rerankV1, body)["results"] == r["results"])
        let tei = try Support.call(.rerank, Support.body([("query", .string("q")), ("texts", Support.strings(docs))])).items
        #expect(tei.count == 50)
        let teiScores = tei.map { $0["score"]!.number! }
        #expect(teiScores == teiScores.sorted(by: >=))
    }

    /// DirectEngine, counting its evaluate calls (the sort's rounds).
    final class CountingEngine: InferenceEngine, @unchecked Sendable {
        let inner = DirectEngine(model: Support.model)
        let lock = NSLock()
        var calls = 0
        func admit(pairs: Int, context: RequestContext) throws -> Admission { Admission(pairs: pairs) }
        func evaluate(_ pairs: [PairSequence], context: RequestContext) throws -> [Float] {
            lock.lock(); calls += 1; lock.unlock()
            return try inner.evaluate(pairs, context: context)
        }
    }

    @Test("1,000 documents rank within the default limits (fixture model)")
    func thousand() throws {
        let limits = ServiceLimits()
        let engine = CountingEngine()
        let service = RankerService(model: Support.model, engine: engine, limits: limits)
        let docs = (0..<1000).map { "passage \($0) about topic \($0 % 13): \(String(repeating: "word ", count: $0 % 5))" }
        for (top, label) in [(Optional(10), "top_n 10"), (nil, "all")] {
            var pairs: [(String, JSON)] = [("query", .string("Which passage is about topic 3?")), ("documents", Support.strings(docs))]
            if let top { pairs.append(("top_n", .number(Double(top)))) }
            let start = Date()
            engine.lock.lock(); engine.calls = 0; engine.lock.unlock()
            let r = try service.handle(.rerankV1, body: Array(Support.body(pairs).utf8), context: RequestContext(id: "1000"))
            let seconds = Date().timeIntervalSince(start)
            let results = r["results"]!.items
            #expect(results.count == (top ?? 1000))
            #expect(Set(results.map { $0["index"]!.number! }).count == results.count, "no document twice")
            let spent = r["usage"]!["pairs"]!.number!
            #expect(spent <= Double(RankerService.sortBudget(1000, top: top)))
            engine.lock.lock(); let rounds = engine.calls; engine.lock.unlock()
            print("rerank of 1000 documents (\(label)): \(Int(spent)) forwards in \(rounds) rounds (budget \(RankerService.sortBudget(1000, top: top))), \(String(format: "%.1f", seconds)) s on the fixture model")
        }
    }
}
