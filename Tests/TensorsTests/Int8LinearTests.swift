import CInt8
import Testing

@testable import Tensors

/// The int8 kernels against a Swift model of the same arithmetic: per-row asymmetric u8 activations
/// (scale and zero point), per-channel s8 weights, exact Int32 sums, then
/// (sum − zero·Σw)·(xs·ws) + bias fused.
/// Integer sums are exact, so every kernel must give these bits exactly.
@Suite struct Int8LinearTests {
    func random(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 20000) / 5000 - 2
        }
    }

    static func clamp127(_ v: Float) -> Int32 { v >= 127 ? 127 : v >= -127 ? Int32(v) : -127 }

    /// (q, scale) of one weight row (output channel): symmetric.
    static func quantize(_ row: ArraySlice<Float>) -> ([Int32], Float) {
        var m: Float = 0
        for v in row where !v.isNaN { m = max(m, abs(v)) }
        let s: Float = m > 0 ? m / 127 : 1, inv = 1 / s
        return (row.map { clamp127(($0 * inv).rounded(.toNearestOrEven)) }, s)
    }

    /// (q, scale, zero) of one activation row as the C code defines it: asymmetric u8.
    static func quantizeActivations(_ row: ArraySlice<Float>) -> ([Int32], Float, Int32) {
        var lo: Float = 0, hi: Float = 0
        for v in row where !v.isNaN { lo = min(lo, v); hi = max(hi, v) }
        let s: Float = hi - lo > 0 ? (hi - lo) / 255 : 1, inv = 1 / s
        let zf = (-lo * inv).rounded(.toNearestOrEven)
        let z: Int32 = zf >= 255 ? 255 : zf >= 0 ? Int32(zf) : 0
        return (row.map { v in
            let t = (v * inv).rounded(.toNearestOrEven) + Float(z)
            return t >= 255 ? 255 : t >= 0 ? Int32(t) : 0
        }, s, z)
    }

    static func reference(x: [Float], rows: Int, k: Int, w: [Float], n: Int, bias: [Float]) -> [Float] {
        let qw = (0..<n).map { quantize(w[($0 * k)..<($0 * k + k)]) }
        var y = [Float](repeating: 0, count: rows * n)
        for r in 0..<rows {
            let (qx, xs, z) = quantizeActivations(x[(r * k)..<(r * k + k)])
            for o in 0..<n {
                var acc: Int32 = 0, sum: Int32 = 0
                for i in 0..<k { acc += qx[i] * qw[o].0[i]; sum += qw[o].0[i] }
                let c = Float(acc - z * sum)
                y[r * n + o] = bias[o].addingProduct(c, xs * qw[o].1)
            }
        }
        return y
    }

    static var kernels: [Int8Kernel] { Int8Kernel.allCases.filter(\.isSupported) }

    @Test("the kernel detection agrees with the kernels it reports")
    func detection() {
        if let best = Int8Kernel.best {
            #expect(best.isSupported)
            #expect(best != .avx512vnniYMM, "the test-only encoding is never chosen")
        } else {
            #expect(Self.kernels.isEmpty)
        }
        #expect(Int8Kernel.avx512vnniYMM.isSupported == Int8Kernel.avx512vnni.isSupported)
        // AMX runs the 512-bit kernel for widths its tiles do not fit, so it needs that one too.
        if Int8Kernel.amx.isSupported { #expect(Int8Kernel.avx512vnni.isSupported && Int8Kernel.best == .amx) }
    }

    @Test("every supported kernel gives the reference's bits", arguments: [(1, 16, 4), (5, 37, 30), (13, 100, 65), (12, 64, 256), (29, 200, 1024),
                                                                          // AMX tiles: 1 row; 32 + a 16-row tail; a lone 16-channel block
                                                                          (1, 16, 64), (45, 48, 128), (64, 80, 192), (17, 33, 4096)])
    func exact(shape: (Int, Int, Int)) {
        let (rows, n, k) = shape
        let x = random(rows * k, seed: 1), w = random(n * k, seed: 2).map { $0 * 0.05 }, bias = random(n, seed: 3)
        let want = Self.reference(x: x, rows: rows, k: k, w: w, n: n, bias: bias)
        let layer = Int8Linear(weight: w, outFeatures: n, inFeatures: k, bias: bias)
        for kernel in Self.kernels {
            let act = Int8Activations()
            act.quantize(x, rows: rows, inFeatures: k, kernel: kernel)
            var y = [Float](repeating: .nan, count: rows * n)
            layer.apply(act, into: &y, kernel: kernel)
            let bad = zip(y, want).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(bad == 0, "\(kernel.rawValue) \(shape): \(bad) of \(y.count) outputs differ")
            // A channel range from a block boundary writes just those columns, the same bits.
            if n > 16 {
                var part = [Float](repeating: .nan, count: rows * (n - 16))
                layer.apply(act, channels: 16..<n, into: &part, kernel: kernel)
                let same = (0..<rows).allSatisfy { r in (0..<(n - 16)).allSatisfy { part[r * (n - 16) + $0].bitPattern == want[r * n + 16 + $0].bitPattern } }
                #expect(same, "\(kernel.rawValue) \(shape): channels 16..<\(n)")
            }
        }
    }

    @Test("output past the rows and channels asked for is never written")
    func bounds() {
        let rows = 7, n = 21, k = 12, ldy = 40
        let layer = Int8Linear(weight: random(n * k, seed: 4), outFeatures: n, inFeatures: k, bias: nil)
        for kernel in Self.kernels {
            let act = Int8Activations()
            act.quantize(random(rows * k, seed: 5), rows: rows, inFeatures: k, kernel: kernel)
            var y = [Float](repeating: 7, count: (rows + 5) * ldy)
            layer.apply(act, into: &y, ldy: ldy, kernel: kernel)
            let untouched = (0..<y.count).filter { $0 / ldy >= rows || $0 % ldy >= n }.allSatisfy { y[$0] == 7 }
            #expect(untouched, "\(kernel.rawValue) wrote outside rows 0..<\(rows), columns 0..<\(n)")
        }
    }

    @Test("every quantizer gives the portable code's bytes, NaN, infinity and zero rows included")
    func quantizers() {
        let k = 37, rows = 6
        var x = random(rows * k, seed: 6)
        for i in 0..<k { x[i] = 0 }                         // an all-zero row
        x[k + 3] = .nan                                     // NaN in a row
        x[2 * k + 5] = .infinity; x[2 * k + 6] = -.infinity
        for i in 0..<k { x[3 * k + i] *= 1e-30 }            // tiny values
        for i in 0..<k { x[4 * k + i] = abs(x[4 * k + i]) + 0.1 }   // one sign only (GELU-like)
        let ldq = 40, padded = Int(PR_INT8_ROW_MULTIPLE)   // what pr_int8_pad_rows fills
        func run(_ isa: Int32) -> ([UInt8], [Float], [Int32]) {
            var q = [UInt8](repeating: 7, count: padded * ldq), s = [Float](repeating: -1, count: padded)
            var z = [Int32](repeating: -1, count: padded)
            pr_int8_quantize(isa, x, Int32(rows), Int32(k), Int32(k), &q, Int32(ldq), &s, &z)
            pr_int8_pad_rows(Int32(rows), &q, Int32(ldq), &s, &z)
            return (q, s, z)
        }
        let portable = run(Int32(PR_INT8_NONE))
        for r in 0..<rows {
            let (want, scale, zero) = Self.quantizeActivations(x[(r * k)..<(r * k + k)])
            #expect(portable.0[(r * ldq)..<(r * ldq + k)].map { Int32($0) } == want, "row \(r)")
            #expect(portable.1[r].bitPattern == scale.bitPattern && portable.2[r] == zero, "row \(r) scale and zero point")
            #expect(portable.0[(r * ldq + k)..<(r * ldq + ldq)].allSatisfy { $0 == 0 }, "row \(r) padding")
        }
        #expect(portable.0[(rows * ldq)...].allSatisfy { $0 == 0 } && portable.1[rows...].allSatisfy { $0 == 0 }
                    && portable.2[rows...].allSatisfy { $0 == 0 }, "pad rows")
        // A row of one sign uses the whole byte range: all 255 steps, not half.
        #expect(portable.0[(4 * ldq)..<(4 * ldq + k)].contains(255) || portable.0[(4 * ldq)..<(4 * ldq + k)].contains(0))
        for kernel in Self.kernels {
            let got = run(kernel.isa)
            #expect(got.0 == portable.0 && got.1.map(\.bitPattern) == portable.1.map(\.bitPattern) && got.2 == portable.2,
                    "\(kernel.rawValue)")
        }
    }

    @Test("int8 stays within a few percent of the float product")
    func error() {
        let rows = 16, n = 64, k = 512
        let x = random(rows * k, seed: 7), w = random(n * k, seed: 8).map { $0 * 0.05 }
        let layer = Int8Linear(weight: w, outFeatures: n, inFeatures: k, bias: nil)
        let exact = ReferenceKernels.matmulTransB(x, w, m: rows, n: n, k: k)
        let scale = exact.map { abs($0) }.max()!
        for kernel in Self.kernels {
            let act = Int8Activations()
            act.quantize(x, rows: rows, inFeatures: k, kernel: kernel)
            var y = [Float](repeating: 0, count: rows * n)
            layer.apply(act, into: &y, kernel: kernel)
            let worst = zip(y, exact).map { abs($0 - $1) }.max()!
            // Each operand carries 127 levels (0.4% of its row's largest value at most): over 512
            // random products the error stays near 1% of the largest output.
            #expect(worst / scale < 0.03, "\(kernel.rawValue): max error \(worst) against outputs up to \(scale)")
        }
    }
}
