import Testing

@testable import Tensors

/// Attention's products on the packed fp32 kernel (`PackedGEMM`): they read their rows in place
/// and must be the kernel's FMA chains bit for bit, whichever way the right-hand side was packed.
@Suite(.enabled(if: FloatKernel.avx512.isSupported)) struct PackedGEMMTests {
    let linear = FloatLinearTests()

    @Test("products are the contract's FMA chains bit for bit: row, channel and k tails, row strides, channel ranges, both packings")
    func bits() {
        for (rows, n, k, ldx) in [(1, 1, 1, 1), (5, 17, 7, 9), (12, 32, 64, 64), (13, 33, 64, 192), (30, 80, 300, 301),
                                  (25, 96, 520, 520), (129, 255, 64, 3072)] {
            let x = linear.random(rows * ldx, seed: UInt64(rows * 3 + k)), w = linear.random(n * k, seed: UInt64(n * 5 + k))
            let dense = (0..<rows).flatMap { r in x[(r * ldx)..<(r * ldx + k)] }
            // w as n × k (channel-major) and as its transpose k × n (input-major).
            let wt = (0..<k).flatMap { i in (0..<n).map { o in w[o * k + i] } }
            let floats = PackedGEMM.panelFloats(channels: n, k: k)
            let fromRows = FloatBuffer(count: floats), fromColumns = FloatBuffer(count: floats)
            w.withUnsafeBufferPointer { PackedGEMM.packPanels($0.baseAddress!, channels: n, k: k, ldw: k, into: fromRows.pointer) }
            wt.withUnsafeBufferPointer { PackedGEMM.packPanels(kMajor: $0.baseAddress!, channels: n, k: k, ldwt: n, into: fromColumns.pointer) }
            #expect(Array(UnsafeBufferPointer(start: fromRows.pointer, count: floats))
                    == Array(UnsafeBufferPointer(start: fromColumns.pointer, count: floats)), "packings differ: n \(n), k \(k)")
            var ranges: [Range<Int>] = [0..<n]
            if n > 5 { ranges += [3..<n, 0..<(n - 2)] }
            if n > 40 { ranges += [32..<n, 31..<33, 40..<64] }
            for ch in ranges {
                let want = linear.model(dense, rows: rows, k: k, w: w, bias: nil, channels: ch)
                var got = [Float](repeating: .nan, count: rows * ch.count)
                x.withUnsafeBufferPointer { xp in
                    got.withUnsafeMutableBufferPointer {
                        PackedGEMM.gemm(xp.baseAddress!, rows: rows, ldx: ldx, k: k, panels: fromRows.pointer, channels: ch,
                                        into: $0.baseAddress!, ldy: ch.count)
                    }
                }
                #expect(got == want, "rows \(rows), n \(n), k \(k), ldx \(ldx), channels \(ch)")
            }
        }
    }
}
