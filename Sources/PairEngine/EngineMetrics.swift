/// Where the engine reports what it does: queue and admission gauges, batch sizes, pairs dropped
/// and processed, queue and inference durations. Owned here so the engine needs no metrics
/// module; the server passes its `Metrics` (RankerService conforms it). Implementations must
/// not call back into the engine while holding a lock of their own (docs/architecture.md): the
/// engine calls these with none of its locks held.
public protocol EngineMetrics: AnyObject, Sendable {
    /// Adds `value` to the counter `counter`.
    func add(_ counter: String, _ value: Double)
    /// Records one observation of `value` in the histogram `histogram`.
    func observe(_ histogram: String, _ value: Double)
    /// Registers a gauge whose value is read, when rendered, by calling `read`.
    func gauge(_ name: String, _ read: @escaping @Sendable () -> Double)
}
