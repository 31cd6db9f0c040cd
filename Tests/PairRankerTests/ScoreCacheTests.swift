import Dispatch
import Testing

@testable import PairRanker

@Suite struct ScoreCacheTests {
    static func seq(_ k: Int, length: Int = 10) -> PairSequence {
        PairSequence(ids: [1, 128001] + (0..<length).map { Int32(($0 * 31 + k) % 1000 + 5) } + [2], sourcePosition: 1,
                     leftPosition: 3, rightPosition: 5)
    }

    @Test("a hit returns the stored bits; misses, hits and sizes are counted")
    func hits() throws {
        let cache = ScoreCache(capacityBytes: 1 << 20)
        #expect(cache.lookup([Self.seq(1)]) == [nil])
        cache.insert([Self.seq(1)], [0.125])
        #expect(cache.lookup([Self.seq(1), Self.seq(2)]) == [0.125, nil])
        let s = cache.stats
        #expect(s.hits == 1 && s.misses == 2 && s.entries == 1)
        #expect(s.bytes == Self.seq(1).ids.count * 4 + ScoreCache.entryOverhead)
    }

    @Test("keys are whole sequences: one id or one position apart is another entry")
    func exactKeys() throws {
        let cache = ScoreCache(capacityBytes: 1 << 20)
        let a = Self.seq(1)
        var ids = a.ids; ids[4] += 1
        let b = PairSequence(ids: ids, sourcePosition: 1, leftPosition: 3, rightPosition: 5)
        let c = PairSequence(ids: a.ids, sourcePosition: 1, leftPosition: 3, rightPosition: 6)
        cache.insert([a], [1])
        #expect(cache.lookup([b, c]) == [nil, nil])
        cache.insert([b, c], [2, 3])
        #expect(cache.lookup([a, b, c]) == [1, 2, 3])
    }

    @Test("bytes stay under the capacity; the least recently used go first")
    func eviction() throws {
        let one = Self.seq(0).ids.count * 4 + ScoreCache.entryOverhead
        let cache = ScoreCache(capacityBytes: 10 * one)
        cache.insert((0..<10).map { Self.seq($0) }, (0..<10).map(Float.init))
        _ = cache.lookup([Self.seq(0)])            // 0 is now the most recently used
        cache.insert([Self.seq(10), Self.seq(11)], [10, 11])
        #expect(cache.stats.bytes <= 10 * one)
        #expect(cache.stats.evictions == 2)
        #expect(cache.lookup([Self.seq(0), Self.seq(1), Self.seq(2), Self.seq(3), Self.seq(11)]) == [0, nil, nil, 3, 11])
        for k in 12..<500 { cache.insert([Self.seq(k, length: 1 + k % 40)], [Float(k)]); #expect(cache.stats.bytes <= 10 * one) }
        // A sequence larger than the whole cache is not stored; a zero-size cache stores nothing.
        let huge = Self.seq(1, length: 10_000)
        cache.insert([huge], [1])
        #expect(cache.lookup([huge]) == [nil])
        let none = ScoreCache(capacityBytes: 0)
        none.insert([Self.seq(1)], [1])
        #expect(none.lookup([Self.seq(1)]) == [nil] && none.stats.bytes == 0)
    }

    @Test("concurrent lookups and inserts keep the counts and the bound")
    func concurrent() throws {
        let one = Self.seq(0).ids.count * 4 + ScoreCache.entryOverhead
        let cache = ScoreCache(capacityBytes: 64 * one)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for k in 0..<2000 {
                let key = Self.seq((k * 7 + t) % 200)
                if cache.lookup([key])[0] == nil { cache.insert([key], [Float((k * 7 + t) % 200)]) }
            }
        }
        let s = cache.stats
        #expect(s.hits + s.misses == 16_000)
        #expect(s.bytes <= 64 * one && s.entries <= 64)
        for (k, v) in cache.lookup((0..<200).map { Self.seq($0) }).enumerated() { if let v { #expect(v == Float(k)) } }
    }

    @Test("through the real model: cached logits are the model's bits, and a second pass is all hits")
    func model() throws {
        let model = TextGoldenTests.model
        let cache = ScoreCache(capacityBytes: 1 << 24)
        var pairs: [PairSequence] = []
        for inst in Fixtures.pairs.instances {
            let seg = try model.assembler.segments(source: inst.source_full_ids, candidates: inst.candidate_full_ids)
            pairs += Ranking.fullPairs(model.assembler, seg)
        }
        let direct = try model.logits(pairs)
        var computed = 0
        let first = try cache.logits(pairs) { missing in computed += missing.count; return try model.logits(missing) }
        #expect(first == direct)
        let second = try cache.logits(pairs) { missing in computed += missing.count; return try model.logits(missing) }
        #expect(second == direct)
        #expect(computed == Set(pairs).count, "each distinct sequence computed once")
    }
}
