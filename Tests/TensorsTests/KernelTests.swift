import Testing

@testable import Tensors

#if canImport(Glibc)
import Glibc
#endif

@Suite struct KernelTests {
    func random(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2000) / 500 - 2
        }
    }

    @Test("gemm with every transpose matches the naive product", arguments: [(3, 5, 7), (17, 64, 9), (64, 33, 128)])
    func gemm(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = random(m * k, seed: 1), b = random(n * k, seed: 2)
        let want = ReferenceKernels.matmulTransB(a, b, m: m, n: n, k: k)
        var c = [Float](repeating: 0, count: m * n)
        BLAS.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
        #expect(zip(c, want).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        // Bᵀ stored K×N, no transpose
        var bt = [Float](repeating: 0, count: k * n)
        for i in 0..<n { for j in 0..<k { bt[j * n + i] = b[i * k + j] } }
        var c2 = [Float](repeating: 0, count: m * n)
        BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: bt, ldb: n, c: &c2, ldc: n)
        #expect(zip(c2, want).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
    }

    @Test("linear adds the bias and pads rows without touching the real ones")
    func linear() {
        let rows = 3, k = 4, n = 2
        let x = random(rows * k, seed: 3) + [Float](repeating: 9, count: 100 * k)
        let w = random(n * k, seed: 4), bias: [Float] = [0.5, -1]
        var y = [Float](repeating: 0, count: 103 * n)
        BLAS.linear(x, rows: rows, inFeatures: k, weight: w, bias: bias, outFeatures: n, into: &y, rowCapacity: 103)
        let want = ReferenceKernels.matmulTransB(Array(x.prefix(rows * k)), w, m: rows, n: n, k: k)
        for i in 0..<(rows * n) { #expect(abs(y[i] - (want[i] + bias[i % n])) < 1e-5) }
    }

    @Test("layerNorm, gelu, softmax and tanh match the naive versions")
    func elementwise() {
        let rows = 5, cols = 37
        let x = random(rows * cols, seed: 5).map { $0 * 3 + 1 }
        let g = random(cols, seed: 6), b = random(cols, seed: 7)
        var out = [Float](repeating: 0, count: rows * cols)
        Kernels.layerNorm(x, rows: rows, cols: cols, gamma: g, beta: b, eps: 1e-7, out: &out)
        let want = ReferenceKernels.layerNorm(x, rows: rows, cols: cols, gamma: g, beta: b, eps: 1e-7)
        #expect(zip(out, want).allSatisfy { abs($0 - $1) <= 2e-6 })

        var gl = x
        Kernels.gelu(&gl, count: gl.count)
        #expect(zip(gl, ReferenceKernels.gelu(x)).allSatisfy { abs($0 - $1) <= 1e-6 })

        var sm = x
        Kernels.softmaxRows(&sm, rows: rows, cols: cols, ld: cols)
        for r in 0..<rows {
            let want = ReferenceKernels.softmax(Array(x[(r * cols)..<((r + 1) * cols)]))
            #expect(zip(sm[(r * cols)..<((r + 1) * cols)], want).allSatisfy { abs($0 - $1) <= 1e-6 })
        }
        // tanh over both branches (|x| below and above 0.625), tiny values, saturation and the
        // scalar tail: within 3 float ulp of libm's double tanh.
        var tx: [Float] = [0, 1e-30, -1e-20, 1e-8, -3e-4, 0.6249, 0.625, -0.6251, 9, -9, 20, -50, 1e4, -1e4]
        for i in 0...4000 { tx.append(Float(i - 2000) / 400) }
        tx.append(0.3)   // count not a multiple of 16
        var th = tx
        Kernels.tanh(&th, count: th.count)
        var worst: Float = 0
        for (got, v) in zip(th, tx) {
            let want = Float(Glibc.tanh(Double(v)))
            let ulps = abs(got - want) / max(want.magnitude.ulp, Float.leastNormalMagnitude)
            worst = max(worst, ulps)
            #expect(ulps <= 3, "tanh(\(v)) = \(got), want \(want)")
        }
        print("tanh max error \(worst) ulp")
    }
}

@Suite struct OpenBLASCoreTests {
    let avx512: Set<String> = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]

    @Test("flags are read from the first cpuinfo flags line")
    func flags() {
        let info = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\nbugs\t: x\nflags\t: other\n"
        #expect(OpenBLASCore.flags(cpuinfo: info) == ["fpu", "sse", "avx2", "fma"])
    }

    @Test("a fallback core on an AVX-512 CPU re-executes with the right core")
    func fallback() {
        #expect(OpenBLASCore.decide(loadedCore: "Prescott", flags: avx512, environment: [:]) == .reexec(core: "SkylakeX"))
        #expect(OpenBLASCore.decide(loadedCore: "Prescott", flags: avx512.union(["avx512_bf16"]), environment: [:])
                == .reexec(core: "Cooperlake"))
        #expect(OpenBLASCore.decide(loadedCore: "Haswell", flags: avx512, environment: [:]) == .reexec(core: "SkylakeX"))
        #expect(OpenBLASCore.decide(loadedCore: "Sandybridge", flags: ["avx", "avx2", "fma"], environment: [:]) == .reexec(core: "Haswell"))
    }

    @Test("the right core, an old CPU, a user override and a second attempt are kept")
    func keep() {
        #expect(OpenBLASCore.decide(loadedCore: "SkylakeX", flags: avx512, environment: [:]) == .keep)
        #expect(OpenBLASCore.decide(loadedCore: "Cooperlake", flags: avx512.union(["avx512_bf16"]), environment: [:]) == .keep)
        #expect(OpenBLASCore.decide(loadedCore: "Prescott", flags: ["sse2"], environment: [:]) == .keep)
        if case .warn = OpenBLASCore.decide(loadedCore: "Prescott", flags: avx512, environment: ["OPENBLAS_CORETYPE": "Prescott"]) {} else {
            Issue.record("a user's OPENBLAS_CORETYPE must be respected")
        }
        if case .warn = OpenBLASCore.decide(loadedCore: "Prescott", flags: avx512, environment: [OpenBLASCore.reexecMarker: "1"]) {} else {
            Issue.record("never re-execute twice")
        }
    }

    @Test("the OpenBLAS thread timeout is set once unless the user chose one")
    func threadTimeout() {
        #expect(OpenBLASCore.threadTimeout(environment: [:]) == "8")
        #expect(OpenBLASCore.threadTimeout(environment: ["OPENBLAS_THREAD_TIMEOUT": "20"]) == nil)
        #expect(OpenBLASCore.threadTimeout(environment: [OpenBLASCore.reexecMarker: "1"]) == nil)
    }

    @Test("the loaded library reports a core and threads")
    func live() {
        #expect(!BLAS.coreName.isEmpty && BLAS.coreName != "unknown")
        #expect(BLAS.threads >= 1)
    }
}

@Suite struct SIMDMathTests {
    @Test("vectorised exp and erf agree with libm to a few ulp")
    func accuracy() {
        var worstExp: Float = 0, worstErf: Float = 0
        var x: Float = -30
        while x < 30 {
            let v = SIMD16<Float>((0..<16).map { x + Float($0) * 0.000731 })
            let e = SIMDMath.exp(v), f = SIMDMath.erf(v)
            for i in 0..<16 {
                let want = expf(v[i])
                worstExp = max(worstExp, abs(e[i] - want) / max(want, .leastNormalMagnitude))
                worstErf = max(worstErf, abs(f[i] - erff(v[i])))
            }
            x += 0.0117
        }
        print("exp max relative error \(worstExp), erf max absolute error \(worstErf)")
        #expect(worstExp < 4e-7)
        #expect(worstErf < 5e-7)
        #expect(SIMDMath.exp(SIMD16(repeating: -200))[0] == 0)
        #expect(SIMDMath.erf(SIMD16(repeating: 9))[0] == 1)
    }
}
