import Foundation

/// Prometheus metrics with stable names (`pairranker_<thing>_<unit>`), rendered in the text
/// exposition format. Thread-safe; updates are a lock and a few adds.
///
/// Lock discipline (docs/architecture.md): `lock` guards the stored values only and is a leaf:
/// nothing is called while it is held. `render` copies the values under the lock, releases it,
/// and only then reads the gauges, whose closures take their owners' locks (the engine's): a
/// scrape that coincides with the engine updating a counter can never wait in a cycle.
public final class Metrics: @unchecked Sendable {
    struct Histogram {
        let buckets: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0
        init(_ buckets: [Double]) { self.buckets = buckets; counts = Array(repeating: 0, count: buckets.count) }
        mutating func observe(_ v: Double) {
            for (i, b) in buckets.enumerated() where v <= b { counts[i] &+= 1 }
            sum += v
            count &+= 1
        }
    }

    struct RequestKey: Hashable, Comparable {
        let route: String
        let status: Int
        static func < (a: RequestKey, b: RequestKey) -> Bool { (a.route, a.status) < (b.route, b.status) }
    }

    private let lock = NSLock()
    // Guarded by `lock`:
    private var requests: [RequestKey: UInt64] = [:]
    private var failures: [String: UInt64] = [:]          // reason
    private var histograms: [String: Histogram] = [:]
    private var counters: [String: Double] = [:]
    private var gauges: [String: @Sendable () -> Double] = [:]

    static let seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
    static let sizes = [1.0, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    static let tokens = [64.0, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    static let requestDuration = "pairranker_request_duration_seconds"

    public init() {
        for (name, buckets) in [(Self.requestDuration, Self.seconds), ("pairranker_queue_duration_seconds", Self.seconds),
                                ("pairranker_inference_duration_seconds", Self.seconds), ("pairranker_batch_pairs", Self.sizes),
                                ("pairranker_batch_tokens", Self.tokens)] {
            histograms[name] = Histogram(buckets)
        }
        for reason in ["validation", "overloaded", "timeout", "cancelled", "internal", "unauthorized", "not_ready", "http"] {
            failures[reason] = 0
        }
        counters["pairranker_pairs_processed_total"] = 0
        counters["pairranker_tokens_processed_total"] = 0
        counters["pairranker_pairs_dropped_total"] = 0
    }

    public func request(route: String, status: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        requests[RequestKey(route: route, status: status), default: 0] &+= 1
        histograms[Self.requestDuration]?.observe(seconds)
    }

    public func failure(_ reason: String) { lock.lock(); failures[reason, default: 0] &+= 1; lock.unlock() }

    public func observe(_ histogram: String, _ value: Double) {
        lock.lock(); histograms[histogram]?.observe(value); lock.unlock()
    }

    public func add(_ counter: String, _ value: Double) { lock.lock(); counters[counter, default: 0] += value; lock.unlock() }

    public func counter(_ name: String) -> Double { lock.lock(); defer { lock.unlock() }; return counters[name] ?? 0 }

    /// Registers a gauge. `read` is called by `render` with no Metrics lock held; it may take its
    /// owner's lock but must not call back into Metrics.
    public func gauge(_ name: String, _ read: @escaping @Sendable () -> Double) { lock.lock(); gauges[name] = read; lock.unlock() }

    /// The text exposition format.
    public func render() -> String {
        lock.lock()
        let requests = self.requests, failures = self.failures, counters = self.counters
        let histograms = self.histograms, gauges = self.gauges
        lock.unlock()
        // Gauges are read after the lock is released (they take other locks).
        let gaugeValues = gauges.sorted { $0.key < $1.key }.map { ($0.key, $0.value()) }
        var out = "# HELP pairranker_requests_total Requests answered, by route and status.\n# TYPE pairranker_requests_total counter\n"
        for (key, v) in requests.sorted(by: { $0.key < $1.key }) {
            out += "pairranker_requests_total{route=\"\(Self.label(key.route))\",status=\"\(key.status)\"} \(v)\n"
        }
        out += "# HELP pairranker_request_failures_total Failed requests, by reason.\n# TYPE pairranker_request_failures_total counter\n"
        for (reason, v) in failures.sorted(by: { $0.key < $1.key }) { out += "pairranker_request_failures_total{reason=\"\(Self.label(reason))\"} \(v)\n" }
        for (name, v) in counters.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) counter\n\(name) \(JSON.format(v))\n"
        }
        for (name, v) in gaugeValues {
            out += "# TYPE \(name) gauge\n\(name) \(JSON.format(v))\n"
        }
        for (name, h) in histograms.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) histogram\n"
            for (b, c) in zip(h.buckets, h.counts) { out += "\(name)_bucket{le=\"\(JSON.format(b))\"} \(c)\n" }
            out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(h.sum)\n\(name)_count \(h.count)\n"
        }
        return out
    }

    /// A label value in the exposition format's escaping (backslash, quote, newline).
    static func label(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
