import Foundation

/// How far one model (int8) departs from another (fp32) on the same rank instances: every
/// ordered pair of each instance's candidates through both, then the figures a user needs before
/// switching. `pairranker agreement` prints them for the user's own data.
public struct Agreement: Sendable, Equatable {
    /// Instances measured, and ordered pairs (one pair sequence each).
    public var instances = 0, pairs = 0
    /// Logit error of the candidate against the reference.
    public var maxAbsLogitError: Double = 0, meanAbsLogitError: Double = 0
    /// Spread of the reference's logits (how decisive the model is on this data).
    public var referenceLogitStd: Double = 0, referenceMeanAbsLogit: Double = 0
    /// Pairs whose logit has the same sign in both (0 counts as its own sign).
    public var sameSign = 0
    /// Pairs whose reference |logit| exceeds `decisiveLogit`, and of those the ones with the same sign.
    public var decisivePairs = 0, decisiveSameSign = 0
    public let decisiveLogit: Double
    /// Instances whose best candidate (rank 1 under max_logits) is the same in both, and whose
    /// whole ranking is the same; mean Kendall tau-b of the two rankings' scores.
    public var sameTop1 = 0, sameRanking = 0
    public var meanKendallTau: Double = 0
    /// Seconds the reference and the candidate spent in forwards.
    public var referenceSeconds: Double = 0, candidateSeconds: Double = 0

    public init(decisiveLogit: Double = 0.5) { self.decisiveLogit = decisiveLogit }

    public var sameSignFraction: Double { pairs == 0 ? 1 : Double(sameSign) / Double(pairs) }
    public var decisiveSameSignFraction: Double { decisivePairs == 0 ? 1 : Double(decisiveSameSign) / Double(decisivePairs) }
    public var sameTop1Fraction: Double { instances == 0 ? 1 : Double(sameTop1) / Double(instances) }
    public var sameRankingFraction: Double { instances == 0 ? 1 : Double(sameRanking) / Double(instances) }

    /// Measures `candidate` against `reference` over `inputs` (each with at least 2 candidates),
    /// `chunk` instances per forward. Both models must share the tokenizer and input assembly.
    public static func measure(reference: PairRankerModel, candidate: PairRankerModel, inputs: [RankInput],
                               decisiveLogit: Double = 0.5, chunk: Int = 8) throws -> Agreement {
        var a = Agreement(decisiveLogit: decisiveLogit)
        var sumAbs = 0.0, sum = 0.0, sumSq = 0.0, sumRefAbs = 0.0, tauSum = 0.0
        var start = 0
        while start < inputs.count {
            let part = inputs[start..<min(inputs.count, start + max(1, chunk))]
            start += part.count
            var sequences: [PairSequence] = [], counts: [Int] = []
            for input in part {
                let seg = try reference.segments(input)
                let pairs = Ranking.fullPairs(reference.assembler, seg)
                sequences += pairs
                counts.append(seg.candidates.count)
            }
            let t0 = Date()
            let ref = try reference.logits(sequences)
            let t1 = Date()
            let got = try candidate.logits(sequences)
            a.candidateSeconds += Date().timeIntervalSince(t1)
            a.referenceSeconds += t1.timeIntervalSince(t0)
            var offset = 0
            for n in counts {
                let k = n * (n - 1)
                let r = Array(ref[offset..<(offset + k)]), g = Array(got[offset..<(offset + k)])
                offset += k
                for (x, y) in zip(r, g) {
                    let e = abs(Double(x) - Double(y))
                    a.maxAbsLogitError = max(a.maxAbsLogitError, e)
                    sumAbs += e
                    sum += Double(x); sumSq += Double(x) * Double(x); sumRefAbs += abs(Double(x))
                    if x.sign == y.sign && (x == 0) == (y == 0) { a.sameSign += 1 }
                    if abs(Double(x)) > decisiveLogit {
                        a.decisivePairs += 1
                        if (x > 0) == (y > 0) { a.decisiveSameSign += 1 }
                    }
                }
                a.pairs += k
                let fr = Ranking.fullResult(r, count: n), fg = Ranking.fullResult(g, count: n)
                if fr.ranks.firstIndex(of: 1) == fg.ranks.firstIndex(of: 1) && fr.ranks.filter({ $0 == 1 }).count == fg.ranks.filter({ $0 == 1 }).count {
                    a.sameTop1 += 1
                }
                if fr.ranks == fg.ranks { a.sameRanking += 1 }
                tauSum += kendallTau(fr.scores, fg.scores)
                a.instances += 1
            }
        }
        if a.pairs > 0 {
            let n = Double(a.pairs)
            a.meanAbsLogitError = sumAbs / n
            a.referenceMeanAbsLogit = sumRefAbs / n
            a.referenceLogitStd = max(0, sumSq / n - (sum / n) * (sum / n)).squareRoot()
        }
        if a.instances > 0 { a.meanKendallTau = tauSum / Double(a.instances) }
        return a
    }

    /// Kendall's tau-b of two score lists (1: the same order; ties handled; 1 when both are all ties).
    public static func kendallTau(_ x: [Float], _ y: [Float]) -> Double {
        var concordant = 0.0, discordant = 0.0, tiesX = 0.0, tiesY = 0.0
        for i in 0..<x.count {
            for j in (i + 1)..<x.count {
                let dx = x[i] - x[j], dy = y[i] - y[j]
                if dx == 0 && dy == 0 { continue }
                if dx == 0 { tiesX += 1 } else if dy == 0 { tiesY += 1 } else if (dx > 0) == (dy > 0) { concordant += 1 } else { discordant += 1 }
            }
        }
        let denominator = ((concordant + discordant + tiesX) * (concordant + discordant + tiesY)).squareRoot()
        return denominator == 0 ? 1 : (concordant - discordant) / denominator
    }
}
