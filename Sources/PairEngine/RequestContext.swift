import Foundation

/// What a request carries into the engine: its id, deadline and a way to learn that its client left.
public final class RequestContext: @unchecked Sendable {
    public let id: String
    /// Monotonic deadline in nanoseconds (DispatchTime.uptimeNanoseconds), or nil.
    public let deadline: UInt64?
    /// Guards `cancelled` and the recorded times and counts; a leaf lock. `isCancelled` asks the
    /// HTTP layer's closure before taking it (docs/architecture.md).
    private let lock = NSLock()
    private var cancelled = false
    private let externallyCancelled: @Sendable () -> Bool
    /// Filled by the engine: time waiting in the queue and time in forward passes.
    public private(set) var queueNanoseconds: UInt64 = 0
    public private(set) var inferenceNanoseconds: UInt64 = 0
    public private(set) var pairs = 0
    public private(set) var tokens = 0
    /// Pair sequences answered from the score cache (not computed, not in `pairs`).
    public private(set) var cachedPairs = 0
    /// False when the client asked to bypass the score cache (`Cache-Control: no-cache`).
    public let useCache: Bool

    public init(id: String, deadline: UInt64? = nil, useCache: Bool = true, cancelled: @escaping @Sendable () -> Bool = { false }) {
        self.id = id
        self.deadline = deadline
        self.useCache = useCache
        externallyCancelled = cancelled
    }

    public func recordCached(pairs n: Int) { lock.lock(); cachedPairs += n; lock.unlock() }

    /// The client went away (or `cancel()` was called).
    public var isCancelled: Bool {
        if externallyCancelled() { return true }
        lock.lock(); defer { lock.unlock() }
        return cancelled
    }

    public var deadlinePassed: Bool { deadline.map { DispatchTime.now().uptimeNanoseconds > $0 } ?? false }
    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }

    public func record(queue: UInt64, inference: UInt64, pairs: Int, tokens: Int) {
        lock.lock()
        queueNanoseconds += queue
        inferenceNanoseconds += inference
        self.pairs += pairs
        self.tokens += tokens
        lock.unlock()
    }
}
