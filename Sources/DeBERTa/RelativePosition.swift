#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Relative positions with logarithmic buckets.
// Ports: modeling_deberta_v2.py make_log_bucket_position, build_relative_position
public enum RelativePosition {
    /// bucket(r) for r = query index − key index. Evaluated in Float32 like the TorchScript
    /// reference (for |r| ≤ 510 the result is the same integer in any precision; docs/model.md §4).
    public static func bucket(_ r: Int, bucketSize: Int, maxPosition: Int) -> Int {
        let mid = bucketSize / 2
        let a = abs(r)
        if a <= mid { return r }
        let ratio = logf(Float(a) / Float(mid)) / logf(Float(maxPosition - 1) / Float(mid))
        let logPos = Int(ceilf(ratio * Float(mid - 1))) + mid
        return r < 0 ? -logPos : logPos
    }

    /// Row of the relative-embedding table for query i and key j: clamp(bucket(i−j) + span, 0, 2·span−1).
    /// `table[d + maxLength − 1]` holds it for d = i − j.
    public static func indexTable(maxLength: Int, span: Int, bucketSize: Int, maxPosition: Int) -> [Int32] {
        (-(maxLength - 1)...(maxLength - 1)).map { d in
            Int32(min(max(bucket(d, bucketSize: bucketSize, maxPosition: maxPosition) + span, 0), 2 * span - 1))
        }
    }
}
