import PairRanker

/// Turns pair sequences into logits. The server's engine batches pairs across requests; the CLI
/// uses `DirectEngine`. Failures the engine decides are `EngineError`s; a scorer's own errors
/// pass through unchanged.
public protocol InferenceEngine: AnyObject, Sendable {
    /// Admits a whole request of `pairs` pair sequences before any work, or throws
    /// `EngineError.overloaded`. The admission holds its share of capacity until it is released:
    /// when the returned value goes away (use `withAdmission`, which scopes it to a closure).
    func admit(pairs: Int, context: RequestContext) throws -> Admission
    /// Blocks until every pair is scored; throws `EngineError.deadlineExceeded` past the
    /// deadline, `EngineError.cancelled` when the client left (queued pairs are dropped, never
    /// computed).
    func evaluate(_ pairs: [PairSequence], context: RequestContext) throws -> [Float]
}

extension InferenceEngine {
    /// Runs `body` as one admitted unit of `pairs` pair sequences; the admission is released when
    /// `body` returns or throws.
    public func withAdmission<T>(pairs: Int, context: RequestContext, _ body: () throws -> T) throws -> T {
        let admission = try admit(pairs: pairs, context: context)
        return try withExtendedLifetime(admission) { try body() }
    }
}

/// A request's admission: `pairs` pair sequences of the engine's capacity, held until this value
/// is deinitialized, which releases them exactly once. Keep it alive for the whole request
/// (`withExtendedLifetime`, or `InferenceEngine.withAdmission`): Swift may end a local's lifetime
/// at its last use.
public final class Admission: Sendable {
    public let pairs: Int
    private let onRelease: (@Sendable (Int) -> Void)?

    /// `onRelease` is called with `pairs` when the admission is released; nil: nothing to release.
    public init(pairs: Int, onRelease: (@Sendable (Int) -> Void)? = nil) {
        self.pairs = pairs
        self.onRelease = onRelease
    }

    deinit { onRelease?(pairs) }
}
