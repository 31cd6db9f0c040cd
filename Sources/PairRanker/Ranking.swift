/// llm-blender's comparison and ranking semantics over segment ids (docs/model.md §3), independent of
/// how pairs are computed: every function takes `evaluate`, which turns pair sequences into
/// logits (the model directly, or the batching engine).
public typealias PairEvaluator = ([PairSequence]) throws -> [Float]

public enum CompareMode: String, CaseIterable, Sendable {
    /// M[A,B] − M[B,A]: two passes; what Blender.compare does by default.
    case both = "[A,B]+[B,A]"
    /// M[A,B]: one pass, positive means A is better.
    case ab = "[A,B]"
    /// M[B,A]: one pass, positive means B is better.
    case ba = "[B,A]"
}

public enum RefMode: String, CaseIterable, Sendable {
    case longest, shortest, medianLength = "median_length", first, last
}

public struct FullRanking: Sendable, Equatable {
    /// M[i][j]: logit with candidate i in slot 1 and j in slot 2; the diagonal is 0.
    public let matrix: [[Float]]
    public let scores: [Float]
    public let ranks: [Int]
}

public struct BubbleResult: Sendable, Equatable {
    /// Index of the best candidate.
    public let best: Int
    /// `[best] + losers in elimination order` (llm-blender's return_all; not a full sort).
    public let order: [Int]
    /// The starting permutation.
    public let start: [Int]
}

public struct RefRanking: Sendable, Equatable {
    public let reference: Int?
    /// −compare(ref, candidate) per candidate (float64, like the reference).
    public let scores: [Double]
    public let ranks: [Int]
}

public enum Ranking {
    /// The pair sequences one comparison in `mode` needs.
    public static func comparePairs(_ assembler: PairAssembler, _ seg: Segments, a: Int, b: Int, mode: CompareMode) -> [PairSequence] {
        let s = seg.source, ca = seg.candidates[a], cb = seg.candidates[b]
        switch mode {
        case .ab: return [assembler.pair(source: s, left: ca, right: cb)]
        case .ba: return [assembler.pair(source: s, left: cb, right: ca)]
        case .both: return [assembler.pair(source: s, left: ca, right: cb), assembler.pair(source: s, left: cb, right: ca)]
        }
    }

    /// The comparison's logit from the logits of `comparePairs` (positive: A better for .both
    /// and .ab; B better for .ba).
    public static func compareResult(_ logits: [Float], mode: CompareMode) -> Float {
        guard mode == .both else { return logits[0] }
        // rank() with N = 2: scores (0 + d)/2 and (−d + 0)/2; their difference is d exactly.
        let scores = Aggregation.maxLogitsScores([[0, logits[0]], [logits[1], 0]])
        return scores[0] - scores[1]
    }

    public static func compare(_ assembler: PairAssembler, _ seg: Segments, a: Int, b: Int, mode: CompareMode,
                               evaluate: PairEvaluator) throws -> Float {
        compareResult(try evaluate(comparePairs(assembler, seg, a: a, b: b, mode: mode)), mode: mode)
    }

    /// Blender.rank: all N(N−1) ordered pairs (i, j), i ≠ j, row-major.
    public static func fullPairs(_ assembler: PairAssembler, _ seg: Segments) -> [PairSequence] {
        let n = seg.candidates.count
        var out: [PairSequence] = []
        out.reserveCapacity(n * (n - 1))
        for i in 0..<n {
            for j in 0..<n where i != j {
                out.append(assembler.pair(source: seg.source, left: seg.candidates[i], right: seg.candidates[j]))
            }
        }
        return out
    }

    /// max_logits scores and competition ranks from the logits of `fullPairs`.
    public static func fullResult(_ logits: [Float], count n: Int) -> FullRanking {
        var m = [[Float]](repeating: [Float](repeating: 0, count: n), count: n)
        var k = 0
        for i in 0..<n { for j in 0..<n where i != j { m[i][j] = logits[k]; k += 1 } }
        let scores = Aggregation.maxLogitsScores(m)
        return FullRanking(matrix: m, scores: scores, ranks: Aggregation.ranks(scores))
    }

    public static func full(_ assembler: PairAssembler, _ seg: Segments, evaluate: PairEvaluator) throws -> FullRanking {
        fullResult(try evaluate(fullPairs(assembler, seg)), count: seg.candidates.count)
    }

    /// _bubble_predict (best mode, one run): adjacent comparisons along a start permutation,
    /// the winner carried forward; c = M[cur,nxt] − M[nxt,cur], cur wins iff c > 0.
    /// NOTE: the reference draws the permutation from torch's global RNG; we use `start` as given
    /// (the caller makes it from a seed, `SeededPermutation`).
    public static func bubble(_ assembler: PairAssembler, _ seg: Segments, start: [Int], evaluate: PairEvaluator) throws -> BubbleResult {
        var permu = start
        for j in 0..<max(0, permu.count - 1) {
            let cur = permu[j], nxt = permu[j + 1]
            let l = try evaluate([assembler.pair(source: seg.source, left: seg.candidates[cur], right: seg.candidates[nxt]),
                                  assembler.pair(source: seg.source, left: seg.candidates[nxt], right: seg.candidates[cur])])
            let c = l[0] + (-l[1])
            permu[j] = c <= 0 ? cur : nxt
            permu[j + 1] = c > 0 ? cur : nxt
        }
        let best = permu.last ?? 0
        return BubbleResult(best: best, order: [best] + permu.dropLast(), start: start)
    }

    /// rank_with_ref: each candidate against a reference text in the default two-order mode;
    /// score = −logit. `reference` is the reference's candidate segment (truncated like a candidate).
    public static func referencePairs(_ assembler: PairAssembler, _ seg: Segments, reference: [Int32]) -> [PairSequence] {
        seg.candidates.flatMap { c in
            [assembler.pair(source: seg.source, left: reference, right: c), assembler.pair(source: seg.source, left: c, right: reference)]
        }
    }

    public static func referenceResult(_ logits: [Float], referenceIndex: Int?) -> RefRanking {
        let scores = stride(from: 0, to: logits.count, by: 2).map { k -> Double in
            -Double(compareResult([logits[k], logits[k + 1]], mode: .both))
        }
        return RefRanking(reference: referenceIndex, scores: scores, ranks: Aggregation.ranks(scores))
    }

    public static func withReference(_ assembler: PairAssembler, _ seg: Segments, reference: [Int32],
                                     referenceIndex: Int?, evaluate: PairEvaluator) throws -> RefRanking {
        referenceResult(try evaluate(referencePairs(assembler, seg, reference: reference)), referenceIndex: referenceIndex)
    }

    /// The reference candidate index for a ref mode, by Python `len` (Unicode scalars); the first
    /// of equals wins for longest/shortest, `sorted(key=len)[N // 2]` (stable) for median_length.
    public static func referenceIndex(_ mode: RefMode, lengths: [Int]) -> Int {
        let n = lengths.count
        switch mode {
        case .first: return 0
        case .last: return n - 1
        case .longest:
            var best = 0
            for i in 1..<max(n, 1) where lengths[i] > lengths[best] { best = i }
            return best
        case .shortest:
            var best = 0
            for i in 1..<max(n, 1) where lengths[i] < lengths[best] { best = i }
            return best
        case .medianLength:
            let sorted = lengths.indices.sorted { lengths[$0] < lengths[$1] || (lengths[$0] == lengths[$1] && $0 < $1) }
            return sorted[n / 2]
        }
    }
}

/// SplitMix64: a small, fast, seedable generator (bubble start orders, random benchmark models).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A reproducible start order for bubble ranking: Fisher-Yates driven by SplitMix64.
public enum SeededPermutation {
    public static func make(count: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        var p = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                p.swapAt(i, j)
            }
        }
        return p
    }
}
