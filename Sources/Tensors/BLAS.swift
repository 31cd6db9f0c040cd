import COpenBLAS
import Sync

/// The one place that calls `cblas_sgemm`, so how GEMMs are called (row counts, thread count,
/// one forward at a time: docs/model.md §5) is decided in one file. Row-major throughout.
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
    /// `groups`: when given, each range of rows runs as its own GEMM of exactly
    /// `groupRows(count)` rows, so a row's result depends only on its group, never on the
    /// other groups or on where its group sits in the batch (see `rowsIndependentOfBatch`).
    /// The groups must be ascending and disjoint, and X and Y need room for
    /// `group.lowerBound + groupRows(group.count)` rows for each of them.
    public static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, ldx: Int? = nil,
                              weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                              into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, rowCapacity: Int = 0,
                              groups: [Range<Int>]? = nil) {
        let ldx = ldx ?? inFeatures, ldy = ldy ?? outFeatures
        if let groups {
            let least = minimumRows(outFeatures: outFeatures, inFeatures: inFeatures)
            for g in groups where !g.isEmpty {
                linearRows(x + g.lowerBound * ldx, rows: max(g.count, least), inFeatures: inFeatures, ldx: ldx,
                           weight: weight, bias: bias, outFeatures: outFeatures, into: y + g.lowerBound * ldy, ldy: ldy)
            }
            return
        }
        let rows = rows > 0 ? max(rows, min(rowCapacity, minimumRows(outFeatures: outFeatures, inFeatures: inFeatures))) : 0
        linearRows(x, rows: rows, inFeatures: inFeatures, ldx: ldx, weight: weight, bias: bias, outFeatures: outFeatures,
                   into: y, ldy: ldy)
    }

    /// Rows a group of `count` rows runs as under `linear(groups:)` (room to leave after it).
    public static func groupRows(_ count: Int, outFeatures: Int, inFeatures: Int) -> Int {
        max(count, minimumRows(outFeatures: outFeatures, inFeatures: inFeatures))
    }

    @inline(__always)
    private static func linearRows(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, ldx: Int,
                                   weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                                   into y: UnsafeMutablePointer<Float>, ldy: Int) {
        if let bias {
            for r in 0..<rows { (y + r * ldy).update(from: bias, count: outFeatures) }
        }
        gemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: ldx,
             b: weight, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: y, ldc: ldy)
    }

    /// Whether the loaded kernels give every row of a GEMM the same bits whatever other rows share
    /// the call and wherever the row sits in it (past the small-matrix path `minimumRows` avoids).
    /// When false, callers that need batch invariance pass `groups` to `linear`.
    public static let rowsIndependentOfBatch = OpenBLASCore.rowsIndependentOfBatch(core: coreName)

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

    /// OpenBLAS's thread count is one process-wide setting, and attention lowers it to 1 while
    /// its (sequence, head) tasks run their own single-threaded GEMMs. Where the kernels' rows
    /// depend on how the threads split a GEMM (`rowsIndependentOfBatch` false), a GEMM that ran
    /// while another forward had lowered the count would get other bits, and the other
    /// forward's restore could leave the count at 1. So every forward, and every GEMM whose
    /// result is kept (the load-time projections), runs inside `exclusive`: one at a time per
    /// process. A server has one model whose forwards are serial anyway; this only orders
    /// forwards of several models in one process (tests, tools), and it is what guards
    /// `PairRankerModel`'s workspace. The body must not wait on another thread that needs it.
    ///
    /// The one lock held while calling out (docs/architecture.md, "The lock order"): its body
    /// is the forward itself, and takes no other lock of ours. Recursive because sections nest:
    /// `PairRankerModel.logits` runs the backbone's forward (which takes it too) and the head's
    /// GEMM in one section.
    public static func exclusive<T>(_ body: () throws -> T) rethrows -> T {
        try exclusiveLock.withLock(body)
    }

    /// Guards OpenBLAS's thread count across a forward (see `exclusive`); recursive.
    private static let exclusiveLock = Locked<Void>(recursive: true)
}
