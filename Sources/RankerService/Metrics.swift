import Foundation

/// Prometheus metrics with stable names (`pairranker_<thing>_<unit>`), rendered in the text
/// exposition format. Thread-safe; updates are a lock and a few adds.
public final class Metrics: @unchecked Sendable {
    final class Histogram {
        let buckets: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0
        init(_ buckets: [Double]) { self.buckets = buckets; counts = Array(repeating: 0, count: buckets.count) }
        func observe(_ v: Double) {
            for (i, b) in buckets.enumerated() where v <= b { counts[i] += 1 }
            sum += v
            count += 1
        }
    }

    private let lock = NSLock()
    private var requests: [String: UInt64] = [:]          // route|status
    private var failures: [String: UInt64] = [:]          // reason
    private var histograms: [String: Histogram] = [:]
    private var counters: [String: Double] = [:]
    private var gauges: [String: () -> Double] = [:]

    static let seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
    static let sizes = [1.0, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    static let tokens = [64.0, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]

    public init() {
        for (name, buckets) in [("pairranker_request_duration_seconds", Self.seconds), ("pairranker_queue_duration_seconds", Self.seconds),
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
        requests["\(route)|\(status)", default: 0] += 1
        histograms["pairranker_request_duration_seconds"]!.observe(seconds)
    }

    public func failure(_ reason: String) { lock.lock(); failures[reason, default: 0] += 1; lock.unlock() }

    public func observe(_ histogram: String, _ value: Double) {
        lock.lock(); histograms[histogram]?.observe(value); lock.unlock()
    }

    public func add(_ counter: String, _ value: Double) { lock.lock(); counters[counter, default: 0] += value; lock.unlock() }

    public func counter(_ name: String) -> Double { lock.lock(); defer { lock.unlock() }; return counters[name] ?? 0 }

    public func gauge(_ name: String, _ read: @escaping () -> Double) { lock.lock(); gauges[name] = read; lock.unlock() }

    /// The text exposition format.
    public func render() -> String {
        lock.lock()
        defer { lock.unlock() }
        var out = "# HELP pairranker_requests_total Requests answered, by route and status.\n# TYPE pairranker_requests_total counter\n"
        for (key, v) in requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|", maxSplits: 1)
            out += "pairranker_requests_total{route=\"\(parts[0])\",status=\"\(parts[1])\"} \(v)\n"
        }
        out += "# HELP pairranker_request_failures_total Failed requests, by reason.\n# TYPE pairranker_request_failures_total counter\n"
        for (reason, v) in failures.sorted(by: { $0.key < $1.key }) { out += "pairranker_request_failures_total{reason=\"\(reason)\"} \(v)\n" }
        for (name, v) in counters.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) counter\n\(name) \(JSON.format(v))\n"
        }
        for (name, read) in gauges.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) gauge\n\(name) \(JSON.format(read()))\n"
        }
        for (name, h) in histograms.sorted(by: { $0.key < $1.key }) {
            out += "# TYPE \(name) histogram\n"
            for (b, c) in zip(h.buckets, h.counts) { out += "\(name)_bucket{le=\"\(JSON.format(b))\"} \(c)\n" }
            out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(h.sum)\n\(name)_count \(h.count)\n"
        }
        return out
    }
}
