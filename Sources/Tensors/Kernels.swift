#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pointer that may cross into the parallel tasks of one kernel call (each task touches its own
/// range; the caller waits for all of them).
// @unchecked: a pointer is not Sendable; this one only crosses into the tasks of one kernel
// call, each of which touches its own range while the caller waits for all of them.
public struct SharedPointer<T>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<T>
    public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
    public init(_ p: UnsafePointer<T>) { self.p = UnsafeMutablePointer(mutating: p) }
}

/// Element-wise and row-wise kernels over raw row-major memory, no arrays or copies: SIMD16
/// inner loops, rows or chunks split over `Parallel.threads`. Every kernel documents its shapes
/// with the llm.c letters; none allocates. Results per row never depend on how work was split.
public enum Kernels {
    typealias V = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// out (rows, C) = LayerNorm(x (rows, C)) · gamma + beta, biased variance, as
    /// torch.nn.LayerNorm. `out` may alias `x`.
    public static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                                 gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                 out: UnsafeMutablePointer<Float>) {
        let xs = SharedPointer(x), os = SharedPointer(out), gs = SharedPointer(gamma), bs = SharedPointer(beta)
        Parallel.forRanges(rows, minimumPerTask: 16) { range in
            for r in range { layerNormRow(xs.p + r * cols, cols: cols, gamma: gs.p, beta: bs.p, eps: eps, out: os.p + r * cols) }
        }
    }

    @inline(__always)
    static func layerNormRow(_ xr: UnsafePointer<Float>, cols: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                             eps: Float, out yr: UnsafeMutablePointer<Float>) {
        let vec = cols / 16 * 16
        // Two passes: the mean, then the centred variance (no cancellation).
        var acc = V(repeating: 0)
        var c = 0
        while c < vec { acc += load(xr + c); c += 16 }
        var sum = Double(acc.sum())
        while c < cols { sum += Double(xr[c]); c += 1 }
        let mean = Float(sum / Double(cols))
        let mv = V(repeating: mean)
        acc = V(repeating: 0)
        c = 0
        while c < vec { let d = load(xr + c) - mv; acc += d * d; c += 16 }
        var sq = Double(acc.sum())
        while c < cols { let d = xr[c] - mean; sq += Double(d * d); c += 1 }
        let rstd = Float(1.0 / (sq / Double(cols) + Double(eps)).squareRoot())
        let rv = V(repeating: rstd)
        c = 0
        while c < vec { store((load(xr + c) - mv) * rv * load(gamma + c) + load(beta + c), yr + c); c += 16 }
        while c < cols { yr[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c]; c += 1 }
    }

    /// x (n) += y (n).
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        let xs = SharedPointer(x), ys = SharedPointer(y)
        chunks(n) { lo, hi in
            var i = lo
            while i + 16 <= hi { store(load(xs.p + i) + load(ys.p + i), xs.p + i); i += 16 }
            while i < hi { xs.p[i] += ys.p[i]; i += 1 }
        }
    }

    /// x (n) *= s.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
        var i = 0
        let sv = V(repeating: s)
        while i + 16 <= n { store(load(x + i) * sv, x + i); i += 16 }
        while i < n { x[i] *= s; i += 1 }
    }

    /// a · b over n floats, in a fixed order (16 lanes, then the lanes summed, then the tail), so
    /// the result never depends on the caller's batch.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
        var acc = V(repeating: 0)
        var i = 0
        while i + 16 <= n { acc += load(a + i) * load(b + i); i += 16 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// y (n) += s · x (n).
    @inline(__always)
    public static func axpy(_ s: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        let sv = V(repeating: s)
        var i = 0
        while i + 16 <= n { store(load(y + i) + sv * load(x + i), y + i); i += 16 }
        while i < n { y[i] += s * x[i]; i += 1 }
    }

    /// x (n) = GELU(x) = 0.5·x·(1 + erf(x/√2)), the exact erf form of torch.nn.functional.gelu
    /// (erf evaluated to float precision by SIMDMath.erf).
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        let xs = SharedPointer(x)
        chunks(n) { lo, hi in
            let k = V(repeating: 0.70710678118654752440)
            var i = lo
            while i + 16 <= hi {
                let v = load(xs.p + i)
                store(0.5 * v * (1 + SIMDMath.erf(v * k)), xs.p + i)
                i += 16
            }
            while i < hi {
                var v = V(repeating: 0)
                v[0] = xs.p[i]
                xs.p[i] = (0.5 * v * (1 + SIMDMath.erf(v * k)))[0]
                i += 1
            }
        }
    }

    /// x (n) = tanh(x).
    public static func tanh(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        let xs = SharedPointer(x)
        chunks(n) { lo, hi in
            var i = lo
            while i + 16 <= hi { store(SIMDMath.tanh(load(xs.p + i)), xs.p + i); i += 16 }
            while i < hi {
                var v = V(repeating: 0)
                v[0] = xs.p[i]
                xs.p[i] = SIMDMath.tanh(v)[0]
                i += 1
            }
        }
    }

    /// Row-wise softmax in place over x (rows, cols) with row stride ld (one thread; callers
    /// parallelise over heads).
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int) {
        let vec = cols / 16 * 16
        for r in 0..<rows {
            let row = x + r * ld
            var mv = V(repeating: -.infinity)
            var c = 0
            while c < vec { let v = load(row + c); mv.replace(with: v, where: v .> mv); c += 16 }
            var mx = mv.max()
            while c < cols { if row[c] > mx { mx = row[c] }; c += 1 }
            let m = V(repeating: mx)
            var sv = V(repeating: 0)
            c = 0
            while c < vec { let e = SIMDMath.exp(load(row + c) - m); store(e, row + c); sv += e; c += 16 }
            var sum = sv.sum()
            while c < cols {
                var t = V(repeating: 0)
                t[0] = row[c] - mx
                let e = SIMDMath.exp(t)[0]
                row[c] = e
                sum += e
                c += 1
            }
            let inv = V(repeating: 1 / sum)
            c = 0
            while c < vec { store(load(row + c) * inv, row + c); c += 16 }
            while c < cols { row[c] *= inv[0]; c += 1 }
        }
    }

    /// Splits 0..<n into per-thread chunks aligned to 16 floats.
    static func chunks(_ n: Int, _ body: @Sendable (Int, Int) -> Void) {
        let blocks = (n + 15) / 16
        Parallel.forRanges(blocks, minimumPerTask: 1024) { r in body(r.lowerBound * 16, min(n, r.upperBound * 16)) }
    }
}
