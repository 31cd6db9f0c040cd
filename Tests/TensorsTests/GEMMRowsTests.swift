import Testing

@testable import Tensors

/// Whether a row of `BLAS.linear` gets the same bits whatever else shares its GEMM: the property
/// batch invariance rests on, checked on whichever OpenBLAS kernels this process loaded (the test
/// command runs this suite under each of `OpenBLASCore.testedCores`).
@Suite struct GEMMRowsTests {
    func random(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2000) / 1000 - 1
        }
    }

    /// Shapes of the fixture model's layers and of the full-size model's.
    static let shapes = [(out: 96, in: 32), (out: 32, in: 128), (out: 1024, in: 1024), (out: 4096, in: 1024)]

    /// Runs `rows` rows starting at row `offset` of a (capacity, in) input as one GEMM (padded
    /// as the encoder pads, capacity rows of room) and returns them.
    func batch(_ x: [Float], offset: Int, rows: Int, capacity: Int, w: [Float], bias: [Float], shape: (out: Int, in: Int)) -> [Float] {
        var y = [Float](repeating: 0, count: capacity * shape.out)
        x.withUnsafeBufferPointer { xp in
            BLAS.linear(xp.baseAddress!, rows: capacity, inFeatures: shape.in, weight: w, bias: bias,
                        outFeatures: shape.out, into: &y, rowCapacity: capacity)
        }
        return Array(y[(offset * shape.out)..<((offset + rows) * shape.out)])
    }

    @Test("rows grouped per sequence get the bits they get alone, on every kernel family")
    func grouped() {
        // Inside BLAS.exclusive, as every forward is: other suites' attention lowers OpenBLAS's
        // process-wide thread count, and on Haswell/Zen a GEMM's bits depend on it.
        BLAS.exclusive { groupedExclusive() }
    }

    func groupedExclusive() {
        for shape in Self.shapes {
            let least = BLAS.minimumRows(outFeatures: shape.out, inFeatures: shape.in)
            let lengths = [7, 1, 30, 13, 2]
            let total = lengths.reduce(0, +)
            let capacity = total + least
            let x = random(capacity * shape.in, seed: 11), w = random(shape.out * shape.in, seed: 12)
            let bias = random(shape.out, seed: 13)
            var groups: [Range<Int>] = [], o = 0
            for l in lengths { groups.append(o..<(o + l)); o += l }
            var y = [Float](repeating: 0, count: capacity * shape.out)
            BLAS.linear(x, rows: total, inFeatures: shape.in, weight: w, bias: bias, outFeatures: shape.out,
                        into: &y, rowCapacity: capacity, groups: groups)
            for g in groups {
                // The same sequence alone, at row 0 of its own buffer.
                let room = BLAS.groupRows(g.count, outFeatures: shape.out, inFeatures: shape.in)
                var xa = [Float](repeating: 0, count: room * shape.in)
                xa.replaceSubrange(0..<(g.count * shape.in), with: x[(g.lowerBound * shape.in)..<(g.upperBound * shape.in)])
                var ya = [Float](repeating: 0, count: room * shape.out)
                BLAS.linear(xa, rows: g.count, inFeatures: shape.in, weight: w, bias: bias, outFeatures: shape.out,
                            into: &ya, rowCapacity: room, groups: [0..<g.count])
                #expect(Array(ya[0..<(g.count * shape.out)]) == Array(y[(g.lowerBound * shape.out)..<(g.upperBound * shape.out)]),
                        "shape \(shape), group \(g), OpenBLAS \(BLAS.coreName)")
            }
        }
    }

    /// Tries row counts and offsets a batch produces; true when every row matched.
    func independent(shape: (out: Int, in: Int)) -> Bool {
        let least = BLAS.minimumRows(outFeatures: shape.out, inFeatures: shape.in)
        let capacity = 160 + least
        let x = random(capacity * shape.in, seed: 21), w = random(shape.out * shape.in, seed: 22)
        let bias = random(shape.out, seed: 23)
        let reference = batch(x, offset: 0, rows: capacity, capacity: capacity, w: w, bias: bias, shape: shape)
        for (offset, rows) in [(0, 1), (0, 7), (1, 13), (5, 30), (37, 41), (3, 97), (50, 110), (0, 160)] {
            // Rows offset..<offset+rows as the first rows of a smaller batch of their own.
            var xs = Array(x[(offset * shape.in)...])
            xs += [Float](repeating: 0, count: offset * shape.in)
            let cap = max(rows, least)
            let got = batch(xs, offset: 0, rows: rows, capacity: cap, w: w, bias: bias, shape: shape)
            if got != Array(reference[(offset * shape.out)..<((offset + rows) * shape.out)]) { return false }
        }
        return true
    }

    @Test("the kernels listed as row-independent are, and the others are not (cores the suite runs under)")
    func classification() {
        let core = BLAS.coreName
        let listed = OpenBLASCore.rowsIndependentOfBatch(core: core)
        let measured = BLAS.exclusive { Self.shapes.allSatisfy { independent(shape: $0) } }
        print("OpenBLAS \(core): rows independent of the batch: listed \(listed), measured \(measured)")
        if listed {
            #expect(measured, "\(core) is listed as row-independent but a row's bits changed with its batch")
        } else if OpenBLASCore.testedCores.contains(core) {
            // Measured once for each tested core: these do depend on the batch. If a new OpenBLAS
            // made them independent, list them (one GEMM per batch is faster).
            #expect(!measured, "\(core) gave every row the same bits: list it in rowsIndependentOfBatch")
        }
        #expect(BLAS.rowsIndependentOfBatch == listed)
    }
}
