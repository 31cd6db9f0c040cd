#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Naive, obviously-correct versions of the kernels, used only by tests as an algorithmic
/// reference (llm.c's matmul_forward_naive idea). Double accumulation throughout.
public enum ReferenceKernels {
    /// C (M, N) = A (M, K) · B (N, K)ᵀ.
    public static func matmulTransB(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(a[i * k + p]) * Double(b[j * k + p]) }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    public static func layerNorm(_ x: [Float], rows: Int, cols: Int, gamma: [Float], beta: [Float],
                                 eps: Float) -> [Float] {
        var out = x
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let mean = row.reduce(0, +) / Double(cols)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            for c in 0..<cols {
                out[r * cols + c] = Float((row[c] - mean) / (variance + Double(eps)).squareRoot()
                                          * Double(gamma[c]) + Double(beta[c]))
            }
        }
        return out
    }

    public static func gelu(_ x: [Float]) -> [Float] {
        x.map { Float(0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot()))) }
    }

    public static func softmax(_ row: [Float]) -> [Float] {
        let m = row.max() ?? 0
        let e = row.map { exp(Double($0 - m)) }
        let s = e.reduce(0, +)
        return e.map { Float($0 / s) }
    }
}
