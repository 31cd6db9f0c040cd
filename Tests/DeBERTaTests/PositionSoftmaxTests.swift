import Testing

@testable import DeBERTa
@testable import Tensors

/// Attention's positional gather and softmax on the packed fp32 path (`PackedGEMM.positionSoftmax`):
/// the Swift kernels' results to rounding, and nothing read but the entries the relative
/// positions name (the products fill only those: `EncoderLayer.packedHead`).
@Suite(.enabled(if: FloatKernel.avx512.isSupported)) struct PositionSoftmaxTests {
    /// Seeded values in [-1, 1).
    func random(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 23) - 1
        }
    }

    @Test("the positional gather and softmax match the Swift kernels and read only the named entries",
          arguments: [1, 2, 15, 16, 17, 100, 129, 200, 384, 512])
    func positionSoftmax(n: Int) {
        // DeBERTa-v3-large's relative positions: 256 buckets, 512 positions (log buckets past 128).
        let maxLength = 512, span = 256
        let rel = RelativePosition.indexTable(maxLength: maxLength, span: span, bucketSize: 256, maxPosition: 512)
        let center = maxLength - 1
        let lo = Int(rel[center - (n - 1)]), hi = Int(rel[center + n - 1]), w = hi - lo + 1
        let scores = random(n * n, seed: UInt64(n)).map { $0 * 4 }
        var c2p = [Float](repeating: .nan, count: n * w), p2cT = [Float](repeating: .nan, count: w * n)
        // Only the entries the gather names get values; a NaN read anywhere else would show.
        let values = random(2 * n * n, seed: UInt64(n + 1000))
        var want = scores
        for i in 0..<n {
            for j in 0..<n {
                let d = Int(rel[center + i - j]) - lo
                c2p[i * w + d] = values[i * n + j] * 3
                p2cT[d * n + j] = values[n * n + i * n + j] * 3
            }
        }
        for i in 0..<n {
            for j in 0..<n {
                let d = Int(rel[center + i - j]) - lo
                want[i * n + j] += c2p[i * w + d] + p2cT[d * n + j]
            }
        }
        want.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: n, cols: n, ld: n) }
        var got = scores
        rel.withUnsafeBufferPointer { r in
            got.withUnsafeMutableBufferPointer {
                PackedGEMM.positionSoftmax($0.baseAddress!, length: n, c2p: c2p, w: w, p2cT: p2cT,
                                           relIndex: r.baseAddress! + center, lo: lo)
            }
        }
        // The same exponentials; only the order each row's sum is taken in may differ.
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
        #expect(got.allSatisfy { $0.isFinite }, "n \(n): a value outside the gather was read")
        #expect(worst <= 1e-6, "n \(n): max |Δ| \(worst)")
        for i in 0..<n {
            let sum = got[(i * n)..<((i + 1) * n)].reduce(0, +)
            #expect(abs(sum - 1) < 1e-5, "n \(n), row \(i): sums to \(sum)")
        }
    }
}
