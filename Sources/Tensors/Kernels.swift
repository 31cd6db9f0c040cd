#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element-wise and row-wise kernels over raw row-major memory (design.md §2 habit 5).
/// Every kernel documents its shapes with the llm.c letters; none allocates.
public enum Kernels {
    /// out (rows, C) = LayerNorm(x (rows, C)) · gamma + beta, biased variance, as torch.nn.LayerNorm.
    /// `out` may alias `x`.
    public static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                 out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * cols
            let yr = out + r * cols
            // Two passes in Double: the mean, then the centred variance (no cancellation).
            var sum = 0.0
            for c in 0..<cols { sum += Double(xr[c]) }
            let mean = sum / Double(cols)
            var sq = 0.0
            for c in 0..<cols { let d = Double(xr[c]) - mean; sq += d * d }
            let rstd = Float(1.0 / (sq / Double(cols) + Double(eps)).squareRoot())
            let m = Float(mean)
            for c in 0..<cols { yr[c] = (xr[c] - m) * rstd * gamma[c] + beta[c] }
        }
    }

    /// x (n) += y (n).
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }

    /// x (n) = GELU(x), exact erf form: 0.5·x·(1 + erf(x/√2)), as torch.nn.functional.gelu.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        let invSqrt2: Float = 0.70710678118654752440
        for i in 0..<n {
            let v = x[i]
            x[i] = 0.5 * v * (1 + erff(v * invSqrt2))
        }
    }

    /// x (n) = tanh(x).
    public static func tanh(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { x[i] = tanhf(x[i]) }
    }

    /// Row-wise softmax in place over x (rows, cols) with row stride ld.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int) {
        for r in 0..<rows {
            let row = x + r * ld
            var mx = -Float.infinity
            for c in 0..<cols where row[c] > mx { mx = row[c] }
            var sum: Float = 0
            for c in 0..<cols {
                let e = expf(row[c] - mx)
                row[c] = e
                sum += e
            }
            let inv = 1 / sum
            for c in 0..<cols { row[c] *= inv }
        }
    }
}
