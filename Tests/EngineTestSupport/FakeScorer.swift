import Foundation
import PairEngine
import PairRanker

/// A scorer that records what it scored and can be held at a gate.
public final class FakeScorer: @unchecked Sendable {
    public let lock = NSLock()
    public var batches: [[PairSequence]] = []
    public let gate = DispatchSemaphore(value: 0)
    private var _holding = false
    public var holding: Bool {
        get { lock.lock(); defer { lock.unlock() }; return _holding }
        set { lock.lock(); _holding = newValue; lock.unlock() }
    }
    public let entered = DispatchSemaphore(value: 0)
    public let delay: Double
    /// `holding`: start with the gate closed (each batch waits for `gate.signal()`).
    public init(delay: Double = 0, holding: Bool = false) {
        self.delay = delay
        _holding = holding
    }
    public func score(_ pairs: [PairSequence]) throws -> [Float] {
        lock.lock(); batches.append(pairs); let hold = _holding; lock.unlock()
        entered.signal()
        if hold { gate.wait() }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        return pairs.map { Float($0.ids.reduce(0) { $0 + Int($1) }) }
    }
    public var scored: [PairSequence] { lock.lock(); defer { lock.unlock() }; return batches.flatMap { $0 } }
}

/// Engine metrics recorded in memory, for tests of the engine without the server's `Metrics`.
public final class RecordingMetrics: EngineMetrics, @unchecked Sendable {
    private let lock = NSLock()
    private var counters: [String: Double] = [:]
    private var observations: [String: [Double]] = [:]
    private var gauges: [String: @Sendable () -> Double] = [:]

    public init() {}

    public func add(_ counter: String, _ value: Double) { lock.withLock { counters[counter, default: 0] += value } }
    public func observe(_ histogram: String, _ value: Double) { lock.withLock { observations[histogram, default: []].append(value) } }
    public func gauge(_ name: String, _ read: @escaping @Sendable () -> Double) { lock.withLock { gauges[name] = read } }

    public func counter(_ name: String) -> Double { lock.withLock { counters[name] ?? 0 } }
    public func observed(_ histogram: String) -> [Double] { lock.withLock { observations[histogram] ?? [] } }
    /// The gauge's value now (read with the lock released, as a renderer must).
    public func gaugeValue(_ name: String) -> Double? { lock.withLock { gauges[name] }.map { $0() } }
}

extension BatchingEngine.Config {
    /// A config for tests: batches cut after at most 1 ms of waiting for company.
    public static func testing(queue: Int = BatchingEngine.Config().maxQueuePairs, batchPairs: Int = 64,
                               batchTokens: Int = BatchingEngine.Config().maxBatchTokens) -> Self {
        var c = BatchingEngine.Config()
        c.maxQueuePairs = queue
        c.maxBatchPairs = batchPairs
        c.maxBatchTokens = batchTokens
        c.maxWaitMilliseconds = 1
        return c
    }
}
