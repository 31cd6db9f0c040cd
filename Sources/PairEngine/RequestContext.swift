import Foundation
import Sync

/// What a request carries into the engine: its id, deadline and a way to learn that its client left.
public final class RequestContext: Sendable {
    public let id: String
    /// Monotonic deadline in nanoseconds (DispatchTime.uptimeNanoseconds), or nil.
    public let deadline: UInt64?
    private struct State {
        var cancelled = false
        var onCancel: [@Sendable () -> Void] = []
        var queueNanoseconds: UInt64 = 0, inferenceNanoseconds: UInt64 = 0
        var pairs = 0, tokens = 0, cachedPairs = 0
    }
    /// Guards `cancel()`'s flag, the `whenCancelled` handlers (run after unlocking) and the
    /// recorded times and counts; a leaf lock (docs/architecture.md).
    private let state = Locked(State())
    /// False when the client asked to bypass the score cache (`Cache-Control: no-cache`).
    public let useCache: Bool

    public init(id: String, deadline: UInt64? = nil, useCache: Bool = true) {
        self.id = id
        self.deadline = deadline
        self.useCache = useCache
    }

    /// Filled by the engine: time waiting in the queue and time in forward passes.
    public var queueNanoseconds: UInt64 { state.withLock { $0.queueNanoseconds } }
    public var inferenceNanoseconds: UInt64 { state.withLock { $0.inferenceNanoseconds } }
    public var pairs: Int { state.withLock { $0.pairs } }
    public var tokens: Int { state.withLock { $0.tokens } }
    /// Pair sequences answered from the score cache (not computed, not in `pairs`).
    public var cachedPairs: Int { state.withLock { $0.cachedPairs } }

    public func recordCached(pairs n: Int) { state.withLock { $0.cachedPairs += n } }

    /// `cancel()` was called: the client went away (the HTTP layer calls it from its own
    /// cancellation signal).
    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    public var deadlinePassed: Bool { deadline.map { DispatchTime.now().uptimeNanoseconds > $0 } ?? false }

    /// Marks the request cancelled and runs the `whenCancelled` handlers once, outside the lock.
    public func cancel() {
        let handlers = state.withLock { s -> [@Sendable () -> Void] in
            guard !s.cancelled else { return [] }
            s.cancelled = true
            defer { s.onCancel = [] }
            return s.onCancel
        }
        for h in handlers { h() }
    }

    /// Runs `body` once when `cancel()` is called, or now (on this thread) if it already was: how
    /// a waiter learns of a departed client without polling.
    public func whenCancelled(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.cancelled { return true }
            s.onCancel.append(body)
            return false
        }
        if now { body() }
    }

    public func record(queue: UInt64, inference: UInt64, pairs: Int, tokens: Int) {
        state.withLock { s in
            s.queueNanoseconds += queue
            s.inferenceNanoseconds += inference
            s.pairs += pairs
            s.tokens += tokens
        }
    }
}
