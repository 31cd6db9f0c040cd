import Testing

@testable import PairRanker

@Suite struct AggregationTests {
    @Test("max_logits scores are bit-exact to numpy for N = 1…40, 64, 130")
    func scores() {
        #expect(Fixtures.aggregation.matrices.count >= 40)
        for c in Fixtures.aggregation.matrices {
            let s = Aggregation.maxLogitsScores(c.matrix)
            #expect(s == c.scores, "N = \(c.matrix.count)")
            #expect(Aggregation.ranks(s) == c.ranks, "N = \(c.matrix.count)")
        }
    }

    @Test("ties share the smallest rank (1, 1, 3)")
    func ties() {
        for t in Fixtures.aggregation.ties { #expect(Aggregation.ranks(t.scores) == t.ranks) }
        #expect(Aggregation.ranks([3.0, 3.0, 1.0]) == [1, 1, 3])
    }

    @Test("reference choice follows Python's max/min/sorted by len")
    func referenceIndex() {
        let lengths = [3, 7, 7, 1, 1]
        #expect(Ranking.referenceIndex(.longest, lengths: lengths) == 1)
        #expect(Ranking.referenceIndex(.shortest, lengths: lengths) == 3)
        #expect(Ranking.referenceIndex(.medianLength, lengths: lengths) == 0)  // sorted: 3,4,0,1,2 -> [2] = 0
        #expect(Ranking.referenceIndex(.first, lengths: lengths) == 0)
        #expect(Ranking.referenceIndex(.last, lengths: lengths) == 4)
    }

    @Test("seeded permutations are reproducible permutations")
    func permutation() {
        let a = SeededPermutation.make(count: 9, seed: 42)
        #expect(a == SeededPermutation.make(count: 9, seed: 42))
        #expect(a.sorted() == Array(0..<9))
        #expect(a != SeededPermutation.make(count: 9, seed: 43))
    }
}
