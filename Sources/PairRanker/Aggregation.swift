/// Scores and ranks from comparison matrices, bit-exact to llm-blender's numpy code
/// (`gpt_eval/utils.py` get_scores_from_cmps with policy max_logits, get_ranks_from_scores).
public enum Aggregation {
    /// numpy's float32 pairwise summation (`pairwise_sum_FLOAT`): a plain loop below 8 elements,
    /// 8 accumulators up to 128, halves (rounded to a multiple of 8) above.
    public static func numpySum(_ a: UnsafeBufferPointer<Float>) -> Float {
        let n = a.count
        if n < 8 {
            var res: Float = 0
            for v in a { res += v }
            return res
        }
        if n <= 128 {
            var r = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
            var i = 8
            while i < n - (n % 8) {
                r.0 += a[i]; r.1 += a[i + 1]; r.2 += a[i + 2]; r.3 += a[i + 3]
                r.4 += a[i + 4]; r.5 += a[i + 5]; r.6 += a[i + 6]; r.7 += a[i + 7]
                i += 8
            }
            var res = ((r.0 + r.1) + (r.2 + r.3)) + ((r.4 + r.5) + (r.6 + r.7))
            while i < n { res += a[i]; i += 1 }
            return res
        }
        var n2 = n / 2
        n2 -= n2 % 8
        return numpySum(UnsafeBufferPointer(rebasing: a[0..<n2])) + numpySum(UnsafeBufferPointer(rebasing: a[n2...]))
    }

    /// s_i = mean_j float32(M[i][j] − M[j][i]), numpy float32 semantics (max_logits policy).
    public static func maxLogitsScores(_ m: [[Float]]) -> [Float] {
        let n = m.count
        return (0..<n).map { i in
            let row = (0..<n).map { j in m[i][j] - m[j][i] }
            return row.withUnsafeBufferPointer { numpySum($0) } / Float(n)
        }
    }

    /// Competition ranks, 1 = best: rank = 1 + the position of the first equal score in the
    /// descending order, so ties share the smallest rank ("1, 1, 3"). Exact equality.
    public static func ranks<T: Comparable>(_ scores: [T]) -> [Int] {
        let sorted = scores.sorted(by: >)
        return scores.map { s in 1 + sorted.firstIndex(of: s)! }
    }
}
