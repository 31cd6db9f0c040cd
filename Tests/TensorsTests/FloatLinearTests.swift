import Testing

@testable import Tensors

/// The packed fp32 kernel (CGemm via FloatLinear) against a Swift model of its arithmetic, bit for
/// bit: per output, one fused multiply-add chain from 0 over each block of 256 inputs in k order,
/// the blocks' sums added in order, then the bias. And the property the engine's batch
/// invariance rests on: a row's bits depend on that row alone.
@Suite struct FloatLinearTests {
    static let supported = FloatKernel.avx512.isSupported

    /// Seeded values in [-1, 1), the generator the BLAS row tests use.
    func random(_ n: Int, seed: UInt64) -> [Float] { GEMMRowsTests().random(n, seed: seed) }

    /// The kernel's contract in plain Swift (`addingProduct` is a fused multiply-add).
    func model(_ x: [Float], rows: Int, k: Int, w: [Float], bias: [Float]?, channels: Range<Int>) -> [Float] {
        var y: [Float] = []
        for r in 0..<rows {
            for o in channels {
                var total: Float = 0
                var k0 = 0
                while k0 < k {
                    var chain: Float = 0
                    for i in k0..<min(k, k0 + 256) { chain = chain.addingProduct(x[r * k + i], w[o * k + i]) }
                    total += chain
                    k0 += 256
                }
                y.append(total + (bias?[o] ?? 0))
            }
        }
        return y
    }

    func run(_ layer: FloatLinear, _ x: [Float], rows: Int, channels: Range<Int>? = nil) -> [Float] {
        let rowsBuffer = FloatRows()
        let width = (channels ?? 0..<layer.outFeatures).count
        var y = [Float](repeating: .nan, count: rows * width)
        x.withUnsafeBufferPointer { rowsBuffer.pack($0.baseAddress!, rows: rows, inFeatures: layer.inFeatures) }
        y.withUnsafeMutableBufferPointer { layer.apply(rowsBuffer, channels: channels, into: $0.baseAddress!) }
        return y
    }

    @Test("the kernel is what this CPU's AVX-512 says, and the best kernel where it has it")
    func detection() {
        #expect(FloatKernel.best == (Self.supported ? .avx512 : .openblas))
        #expect(FloatKernel.openblas.isSupported)
    }

    @Test("outputs are the contract's FMA chains bit for bit: row, channel and k tails, channel ranges, no bias",
          .enabled(if: Self.supported))
    func bits() {
        // Rows around the 12-row tile, channels around the 32-wide panel, k around the 256 block.
        for (rows, n, k) in [(1, 1, 1), (5, 17, 7), (12, 32, 256), (13, 33, 257), (30, 80, 600), (25, 96, 1030), (205, 40, 70)] {
            let x = random(rows * k, seed: UInt64(rows * 7 + k)), w = random(n * k, seed: UInt64(n * 13 + k))
            let bias = random(n, seed: UInt64(n))
            for withBias in [true, false] {
                let layer = w.withUnsafeBufferPointer { wp in
                    bias.withUnsafeBufferPointer { bp in
                        FloatLinear(weight: wp.baseAddress!, outFeatures: n, inFeatures: k, bias: withBias ? bp.baseAddress! : nil)
                    }
                }
                var ranges: [Range<Int>] = [0..<n]
                if n > 5 { ranges += [3..<n, 0..<(n - 2), 5..<(n - 1)] }
                if n > 40 { ranges += [32..<n, 31..<33, 40..<64] }
                for ch in ranges {
                    let want = model(x, rows: rows, k: k, w: w, bias: withBias ? bias : nil, channels: ch)
                    let got = run(layer, x, rows: rows, channels: ch)
                    #expect(got == want, "rows \(rows), n \(n), k \(k), channels \(ch), bias \(withBias)")
                }
            }
        }
    }

    @Test("a row gets the same bits alone, in any batch and at any place in it", .enabled(if: Self.supported))
    func rowsIndependent() {
        // 400 rows: three row blocks of 192 (CGemm's cache blocking) and part of a fourth.
        for (n, k, total) in [(96, 32, 37), (1024, 1024, 37), (64, 4096, 37), (80, 300, 400)] {
            let x = random(total * k, seed: 3), w = random(n * k, seed: 4), bias = random(n, seed: 5)
            let layer = w.withUnsafeBufferPointer { wp in
                bias.withUnsafeBufferPointer { FloatLinear(weight: wp.baseAddress!, outFeatures: n, inFeatures: k, bias: $0.baseAddress!) }
            }
            let all = run(layer, x, rows: total)
            for (start, count) in [(0, 1), (5, 1), (11, 2), (12, 13), (30, 7)] + (total > 200 ? [(190, 5), (0, 193), (380, 20)] : []) {
                let part = run(layer, Array(x[(start * k)..<((start + count) * k)]), rows: count)
                #expect(part == Array(all[(start * n)..<((start + count) * n)]), "shape (\(n), \(k)), rows \(start)..<\(start + count)")
            }
        }
    }

    @Test("agrees with OpenBLAS SGEMM to float32 rounding on the model's shapes", .enabled(if: Self.supported))
    func againstSGEMM() {
        for (rows, n, k) in [(20, 1024, 1024), (13, 4096, 1024), (9, 1024, 4096)] {
            let x = random(rows * k, seed: 8), w = random(n * k, seed: 9).map { $0 * 0.05 }, bias = random(n, seed: 10)
            let layer = w.withUnsafeBufferPointer { wp in
                bias.withUnsafeBufferPointer { FloatLinear(weight: wp.baseAddress!, outFeatures: n, inFeatures: k, bias: $0.baseAddress!) }
            }
            let got = run(layer, x, rows: rows)
            var want = [Float](repeating: 0, count: rows * n)
            BLAS.exclusive {
                BLAS.linear(x, rows: rows, inFeatures: k, weight: w, bias: bias, outFeatures: n, into: &want, rowCapacity: rows)
            }
            let worst = zip(got, want).map { abs($0 - $1) }.max()!
            // Outputs of magnitude ~1 from k products: a few float32 ulps of the partial sums.
            #expect(worst < 2e-5, "rows \(rows), n \(n), k \(k): max |Δ| \(worst)")
        }
    }
}
