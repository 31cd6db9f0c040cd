/// Ranking many candidates with the pair model as a comparator, for when the full N(N−1)
/// comparison matrix is too expensive (a rerank of 1,000 documents would be ~10⁶ forwards).
///
/// The comparator is the default two-order compare, c(i, j) = M[i, j] − M[j, i] (two forwards;
/// c(j, i) = −c(i, j) exactly, and identical candidates give exactly 0). Candidates are sorted by
/// a quicksort whose every round partitions all open ranges at once against their pivots, so a
/// round is one batch of comparisons: about 1.4·N·log2(N) comparisons in about 2·log2(N) rounds
/// (the batching engine fills its batches from them). The pivot is the first candidate of its
/// range in a seeded start order, so a result is reproducible from its seed. With `top` set,
/// ranges that cannot hold any of the best `top` are left unsorted (quickselect): about
/// 2·N + top·log2(top) comparisons.
///
/// The model is not a consistent order (it can prefer a to b, b to c and c to a); a sort then
/// returns one of the orders the comparisons allow, while the full mode averages over every pair.
/// How often the two agree is measured by `SortRankingTests` and reported in the README.
public struct SortRanking: Sendable, Equatable {
    /// Candidate indices, best first; with `top`, only the first `top` are in order.
    public let order: [Int]
    /// Competition ranks (1 = best; candidates that compared exactly equal to their pivot share
    /// a rank); with `top`, candidates outside the best `top` get rank top + 1.
    public let ranks: [Int]
    /// Per candidate, the mean two-order logit over the comparisons it took part in (a partial
    /// max_logits score: higher is better, comparable only loosely across candidates).
    public let scores: [Float]
    /// Comparisons made (each two forwards) and rounds (evaluate calls).
    public let comparisons: Int
    public let rounds: Int
    public let seed: UInt64
}

extension Ranking {
    public static func sorted(_ assembler: PairAssembler, _ seg: Segments, top: Int? = nil, seed: UInt64,
                              evaluate: PairEvaluator) throws -> SortRanking {
        let n = seg.candidates.count
        let want = min(max(top ?? n, 0), n)
        var order = SeededPermutation.make(count: n, seed: seed)
        // c(i, j) once per unordered pair; identical segments compare to exactly 0 with no forward.
        var memo: [Int: Float] = [:]
        func key(_ i: Int, _ j: Int) -> Int { i * n + j }
        var sum = [Float](repeating: 0, count: n), count = [Int](repeating: 0, count: n)
        var comparisons = 0, rounds = 0
        // Ranges of `order` still to sort: [lo, hi). Elements equal to a pivot are settled.
        var open: [Range<Int>] = n > 1 ? [0..<n] : []
        var tiedWithPrevious = [Bool](repeating: false, count: n)   // by position in `order`
        while !open.isEmpty {
            // One round: every element of every open range against its range's pivot.
            var needed: [(Int, Int)] = []
            for r in open {
                let pivot = order[r.lowerBound]
                for p in (r.lowerBound + 1)..<r.upperBound {
                    let x = order[p]
                    if memo[key(x, pivot)] == nil, memo[key(pivot, x)] == nil, seg.candidates[x] != seg.candidates[pivot] {
                        needed.append((x, pivot))
                    }
                }
            }
            if !needed.isEmpty {
                var pairs: [PairSequence] = []
                pairs.reserveCapacity(2 * needed.count)
                for (x, pivot) in needed {
                    pairs.append(assembler.pair(source: seg.source, left: seg.candidates[x], right: seg.candidates[pivot]))
                    pairs.append(assembler.pair(source: seg.source, left: seg.candidates[pivot], right: seg.candidates[x]))
                }
                let logits = try evaluate(pairs)
                guard logits.count == pairs.count else {
                    throw PairRankerError.evaluation(message: "expected \(pairs.count) logits, got \(logits.count)")
                }
                for (k, (x, pivot)) in needed.enumerated() {
                    let c = compareResult([logits[2 * k], logits[2 * k + 1]], mode: .both)
                    memo[key(x, pivot)] = c
                    sum[x] += c; count[x] += 1
                    sum[pivot] -= c; count[pivot] += 1
                }
                comparisons += needed.count
                rounds += 1
            }
            func c(_ x: Int, _ pivot: Int) -> Float {
                if let v = memo[key(x, pivot)] { return v }
                if let v = memo[key(pivot, x)] { return -v }
                return 0   // identical segments
            }
            // Partition each range into better | equal (pivot first) | worse, keeping the start
            // order within each part (stable), then open the parts that still matter.
            var next: [Range<Int>] = []
            for r in open {
                let pivot = order[r.lowerBound]
                var better: [Int] = [], equal: [Int] = [pivot], worse: [Int] = []
                for p in (r.lowerBound + 1)..<r.upperBound {
                    let x = order[p], v = c(x, pivot)
                    if v > 0 { better.append(x) } else if v < 0 { worse.append(x) } else { equal.append(x) }
                }
                let merged = better + equal + worse
                for (k, x) in merged.enumerated() { order[r.lowerBound + k] = x }
                let b = r.lowerBound, e = b + better.count, w = e + equal.count
                for p in e..<w { tiedWithPrevious[p] = p > e }
                if better.count > 1, b < want { next.append(b..<e) }
                if worse.count > 1, w < want { next.append(w..<r.upperBound) }
            }
            open = next
        }
        var ranks = [Int](repeating: want + 1, count: n)
        for p in 0..<want {
            ranks[order[p]] = (p > 0 && tiedWithPrevious[p]) ? ranks[order[p - 1]] : p + 1
        }
        let scores = (0..<n).map { count[$0] > 0 ? sum[$0] / Float(count[$0]) : 0 }
        return SortRanking(order: order, ranks: ranks, scores: scores, comparisons: comparisons, rounds: rounds, seed: seed)
    }
}
