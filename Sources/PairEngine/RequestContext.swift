import Foundation
import Sync

/// What a request carries into the engine: its id, deadline and a way to learn that its client left.
public final class RequestContext: Sendable {
    public let id: String
    /// Monotonic deadline in nanoseconds (DispatchTime.uptimeNanoseconds), or nil.
    public let deadline: UInt64?
    private struct State {
        var cancelled = false
        var queueNanoseconds: UInt64 = 0, inferenceNanoseconds: UInt64 = 0
        var pairs = 0, tokens = 0, cachedPairs = 0
    }
    /// Guards `cancel()`'s flag and the recorded times and counts; a leaf lock. `isCancelled`
    /// asks the HTTP layer's closure before taking it (docs/architecture.md).
    private let state = Locked(State())
    private let externallyCancelled: @Sendable () -> Bool
    /// False when the client asked to bypass the score cache (`Cache-Control: no-cache`).
    public let useCache: Bool

    public init(id: String, deadline: UInt64? = nil, useCache: Bool = true, cancelled: @escaping @Sendable () -> Bool = { false }) {
        self.id = id
        self.deadline = deadline
        self.useCache = useCache
        externallyCancelled = cancelled
    }

    /// Filled by the engine: time waiting in the queue and time in forward passes.
    public var queueNanoseconds: UInt64 { state.withLock { $0.queueNanoseconds } }
    public var inferenceNanoseconds: UInt64 { state.withLock { $0.inferenceNanoseconds } }
    public var pairs: Int { state.withLock { $0.pairs } }
    public var tokens: Int { state.withLock { $0.tokens } }
    /// Pair sequences answered from the score cache (not computed, not in `pairs`).
    public var cachedPairs: Int { state.withLock { $0.cachedPairs } }

    public func recordCached(pairs n: Int) { state.withLock { $0.cachedPairs += n } }

    /// The client went away (or `cancel()` was called).
    public var isCancelled: Bool {
        if externallyCancelled() { return true }
        return state.withLock { $0.cancelled }
    }

    public var deadlinePassed: Bool { deadline.map { DispatchTime.now().uptimeNanoseconds > $0 } ?? false }
    public func cancel() { state.withLock { $0.cancelled = true } }

    public func record(queue: UInt64, inference: UInt64, pairs: Int, tokens: Int) {
        state.withLock { s in
            s.queueNanoseconds += queue
            s.inferenceNanoseconds += inference
            s.pairs += pairs
            s.tokens += tokens
        }
    }
}
