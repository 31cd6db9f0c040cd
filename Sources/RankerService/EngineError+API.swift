import PairEngine

extension APIError {
    /// The status a client sees for each of the engine's failures, with the engine's message.
    init(_ e: EngineError) {
        switch e {
        case .overloaded: self.init(.overloaded, e.description)
        case .deadlineExceeded: self.init(.timeout, e.description)
        case .cancelled: self.init(.cancelled, e.description)
        case .scorerMismatch: self.init(.internalError, e.description)
        }
    }

    /// Runs `body`, rethrowing an `EngineError` as the APIError above; other errors unchanged.
    static func mappingEngineErrors<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as EngineError { throw APIError(e) }
    }
}

/// The server's metrics take the engine's gauges, counters and histograms.
extension Metrics: EngineMetrics {}
