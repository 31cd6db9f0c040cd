import COpenBLAS

/// The one place that calls `cblas_sgemm` (design.md §1). Row-major throughout.
public enum BLAS {
    /// C (M×N, ldc) = alpha · op(A) · op(B) + beta · C, row-major.
    /// op(A) is M×K (A stored K×M when `transA`), op(B) is K×N (B stored N×K when `transB`).
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// OpenBLAS sends GEMMs with M·N·K ≤ 100³ to "small matrix" kernels whose rounding differs
    /// from its regular kernels, so a token's result would depend on how many rows shared its
    /// batch. `linear` runs at least this many rows (the extra rows are scratch) to stay on the
    /// regular path, whose per-row results do not depend on M. The full-size model needs 1.
    public static func minimumRows(outFeatures n: Int, inFeatures k: Int) -> Int {
        1_000_000 / max(n * k, 1) + 1
    }

    /// Y (rows×out) = X (rows×in, ldx) · Wᵀ + bias, where W is a torch Linear weight (out×in).
    /// `rowCapacity`: rows X and Y have room for; when larger than `rows`, up to
    /// `minimumRows` rows are computed so results are batch-invariant (see there).
    public static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, ldx: Int? = nil,
                              weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                              into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, rowCapacity: Int = 0) {
        let ldy = ldy ?? outFeatures
        let rows = rows > 0 ? max(rows, min(rowCapacity, minimumRows(outFeatures: outFeatures, inFeatures: inFeatures))) : 0
        if let bias {
            for r in 0..<rows { (y + r * ldy).update(from: bias, count: outFeatures) }
        }
        gemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: ldx ?? inFeatures,
             b: weight, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: y, ldc: ldy)
    }

    /// The kernel family OpenBLAS chose when it loaded (`OPENBLAS_CORETYPE` or CPU detection).
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    public static var config: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
}
