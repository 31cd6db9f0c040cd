import CInt8
import Dispatch
import Glibc
import Testing

@testable import Tensors

/// The AMX kernel against the 512-bit one: the same integer sums, so the same bits, for every row
/// count (tiles of 16 and 32 rows with any tail), output width (one lone 16-channel block, pairs of
/// blocks, a masked last block), channel sub-range, bias or none, and the 512-bit fallback for
/// widths whose padded depth is not a multiple of 64. Skipped where AMX does not run.
@Suite struct Int8AMXTests {
    static let amx = Int8Kernel.amx.isSupported

    func random(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 20000) / 5000 - 2
        }
    }

    /// y for rows x channels on `kernel`, in a buffer of ldy = channels.count + 3 columns and one
    /// row more than asked, the rest filled with a sentinel that must survive.
    func run(_ layer: Int8Linear, _ x: [Float], rows: Int, channels: Range<Int>, kernel: Int8Kernel) -> (y: [Float], stray: Bool) {
        let k = layer.inFeatures, ldy = channels.count + 3
        let act = Int8Activations()
        act.quantize(x, rows: rows, inFeatures: k, kernel: kernel)
        var y = [Float](repeating: -777, count: (rows + 1) * ldy)
        layer.apply(act, channels: channels, into: &y, ldy: ldy, kernel: kernel)
        let stray = (0..<y.count).contains { ($0 / ldy >= rows || $0 % ldy >= channels.count) && y[$0] != -777 }
        return (y, stray)
    }

    @Test("AMX gives the 512-bit kernel's bits for rows 1...200, any width, channel sub-range and bias",
          .enabled(if: Self.amx),
          arguments: [(33, 64), (16, 128), (100, 192), (129, 320), (47, 768),
                      // padded depth not a multiple of 64: the 512-bit kernel runs under .amx
                      (17, 68), (40, 4), (33, 100)])
    func sameBits(shape: (Int, Int)) {
        let (n, k) = shape
        let w = random(n * k, seed: 11).map { $0 * 0.05 }, bias = random(n, seed: 12)
        let x = random(200 * k, seed: 13)
        for withBias in [true, false] {
            let layer = bias.withUnsafeBufferPointer { b in
                w.withUnsafeBufferPointer {
                    Int8Linear(weight: $0.baseAddress!, outFeatures: n, inFeatures: k, bias: withBias ? b.baseAddress : nil)
                }
            }
            var ranges = [0..<n]
            if n > 16 { ranges.append(16..<n) }
            if n > 33 { ranges.append(32..<(n - 1)) }   // upper bound inside the last block
            for rows in 1...200 {
                for channels in ranges where rows <= 64 || channels == 0..<n || rows % 17 == 0 {
                    let xs = Array(x[0..<(rows * k)])
                    let want = run(layer, xs, rows: rows, channels: channels, kernel: .avx512vnni)
                    let got = run(layer, xs, rows: rows, channels: channels, kernel: .amx)
                    let bad = zip(got.y, want.y).filter { $0.bitPattern != $1.bitPattern }.count
                    #expect(bad == 0 && !got.stray && !want.stray,
                            "n \(n) k \(k) rows \(rows) channels \(channels) bias \(withBias): \(bad) differ, stray \(got.stray)")
                }
            }
        }
    }

    @Test("AMX from several threads at once (each its own tile config) gives the serial bits", .enabled(if: Self.amx))
    func concurrent() {
        let n = 100, k = 256, threads = 8
        let layer = Int8Linear(weight: random(n * k, seed: 21).map { $0 * 0.05 }, outFeatures: n, inFeatures: k,
                               bias: random(n, seed: 22))
        let inputs = (0..<threads).map { t in random((t * 13 + 5) * k, seed: 30 + UInt64(t)) }
        let want = (0..<threads).map { t in run(layer, inputs[t], rows: t * 13 + 5, channels: 0..<n, kernel: .avx512vnni).y }
        let ok = UnsafeMutableBufferPointer<Bool>.allocate(capacity: threads)
        defer { ok.deallocate() }
        ok.initialize(repeating: true)
        let flags = SharedPointer(ok.baseAddress!)
        for _ in 0..<20 {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let got = run(layer, inputs[t], rows: t * 13 + 5, channels: 0..<n, kernel: .amx).y
                if got.map(\.bitPattern) != want[t].map(\.bitPattern) { flags.p[t] = false }
            }
        }
        #expect(ok.allSatisfy { $0 }, "threads whose AMX output differed: \((0..<threads).filter { !ok[$0] })")
    }

    /// Int8Linear.apply is public and takes any Int8Kernel; on Linux the tile state must be asked
    /// for (arch_prctl) before the first tile instruction, and only pr_int8_isa_supported asks.
    /// A process whose first int8 call is apply(kernel: .amx) must not die of SIGILL.
    @Test("AMX in a fresh process that never asked whether it is supported", .enabled(if: Self.amx))
    func withoutDetection() async {
        await #expect(processExitsWith: .success) {
            let n = 16, k = 64
            let w = [Float](repeating: 0.5, count: n * k), x = [Float](repeating: 1, count: 3 * k)
            let layer = Int8Linear(weight: w, outFeatures: n, inFeatures: k, bias: nil)
            let act = Int8Activations()
            act.quantize(x, rows: 3, inFeatures: k, kernel: .amx)
            var y = [Float](repeating: 0, count: 3 * n)
            layer.apply(act, into: &y, kernel: .amx)
            if y.contains(where: { abs($0 - 32) > 0.5 }) { exit(1) }
        }
    }
}
